import { slugify } from '../conformance-report.js';

/**
 * The conformance suite's rules the validating proxy judges passively, each named exactly
 * as the suite names it (`<file>/<the rule's name, slugified>`, src/conformance-report.ts),
 * so a verdict of the proxy and a failure of the suite point at the same rule.
 * test/proxy/rules.test.ts checks every id here against the suite's own list.
 */

export interface ProxyRule {
  id: string;
  /** The suite file, without `.test.ts`. */
  file: string;
  /** The rule's name as the suite declares it. */
  name: string;
  /** The suite's topic (the file's top-level describe). */
  area: string;
  kind: 'documented' | 'observation';
}

const rule = (file: string, area: string, name: string, kind: ProxyRule['kind'] = 'documented'): ProxyRule => ({ id: `${file}/${slugify(name)}`, file, name, area, kind });

const RESPONSES = 'Every response is documented and carries a request id';
const ERRORS = 'Error bodies';
const RATE = 'The management API rate limit';
const PATCH = 'PATCH has set semantics; hierarchy and external id are immutable';
const HIER = 'Hierarchy and effective_models with source_group';
const KEYS = 'Federated key lifecycle';
const DELETE = 'DELETE removes the whole subtree and revokes its keys';
const PAGES = 'Cursor pagination';
const CASCADE = 'CASCADING write-time rule: no child above an ancestor';
const FIELDS = 'Field rules: invalid data is refused';
const EPS = 'Endpoints: create, read, list, update, delete';
const EP_NO = 'Endpoints: documented refusals';
const EVENTS = 'Billing events API: GET /v1/gateway/events';
const INF = 'Inference through the OpenAI SDK';
const LIMITS = 'Limits are enforced on traffic';
const LIFE = 'Seed lifecycle: create, read, mint, list, update, revoke, delete';

export const RULES = {
  contract: rule('responses', RESPONSES, 'every response has a documented status and content type, and a body the published schema allows'),
  requestId: rule('responses', RESPONSES, 'responses of every operation, success and error, carry X-Request-Id', 'observation'),
  inferenceErrorForm: rule('errors', ERRORS, 'a failed inference response is JSON {"error": "<message>"} (a bad key, a limit exceeded)'),
  managementRateLimit: rule(
    'errors',
    RATE,
    'above 100 requests per second on one route: 429 {"error": "Rate limit exceeded. Please try again later.", "retry_after": N}; other routes still answer; after retry_after seconds the route answers again',
  ),
  inference429: rule('inference', INF, 'a request limit hit surfaces as RateLimitError (429), with Retry-After on the mock'),
  readsBackAsCreated: rule('lifecycle', LIFE, 'the seed quick-start and lifecycle pages play out as documented'),
  patchReplaces: rule('patch', PATCH, 'models replaces the whole set: absent slugs removed, new ones added'),
  patchClears: rule('patch', PATCH, '"models": [] clears every model'),
  patchOmitted: rule('patch', PATCH, 'omitting models leaves them unchanged'),
  patchEmpty: rule('patch', PATCH, 'an empty body is 400'),
  patchNeither: rule('patch', PATCH, 'a PATCH naming neither metadata.name nor models is the empty-body 400 (only the hierarchy, only the external id, a name-less metadata)'),
  effectiveModels: rule('hierarchy', HIER, 'effective_models of every descendant follows a change anywhere above it'),
  parentDeleted: rule('hierarchy', HIER, 'a parent that does not exist is 404'),
  secretOnce: rule('keys', KEYS, 'mint returns prefix.secret once; list and get never show the secret, in any field'),
  nameNull: rule('keys', KEYS, 'name is null when none is given'),
  revokedIs404: rule('keys', KEYS, 'revoke returns the prefix and is irreversible; fetching or revoking a revoked key is 404'),
  revokedRefused: rule('keys', KEYS, 'a revoked key is refused by inference; other keys of the group still work'),
  subtree404: rule('delete', DELETE, 'every group of the subtree is 404 on every route afterwards'),
  deletedAt: rule('delete', DELETE, 'DELETE answers the group’s id and metadata, and deleted_at as an RFC 3339 UTC timestamp'),
  deletedLeaveList: rule('delete', DELETE, 'deleted groups leave the list, and their external ids can be used again'),
  subtreeKeysRefused: rule('delete', DELETE, 'keys of the subtree stop authenticating'),
  drainKeys: rule('pagination', PAGES, 'draining keys with small limits returns each exactly once (in creation order on the mock)'),
  drainGroups: rule('pagination', PAGES, 'draining groups with a small limit returns every group of this run exactly once'),
  cascadeCreate: rule('cascade', CASCADE, 'creating a child above its parent is refused with the documented message'),
  cascadeRaise: rule('cascade', CASCADE, 'raising a descendant past an ancestor is refused'),
  cascadeLower: rule('cascade', CASCADE, 'lowering an ancestor below the highest existing descendant is refused'),
  negativeThreshold: rule('field-rules', FIELDS, 'create: threshold is not negative'),
  metadataRequired: rule('field-rules', FIELDS, 'create: metadata is required'),
  modelsRequired: rule('field-rules', FIELDS, 'create: models is required'),
  hierarchyRequired: rule('field-rules', FIELDS, 'create: hierarchy is required'),
  externalIdUnique: rule('field-rules', FIELDS, 'create: external_entity_id is unique among live groups of the workspace (400)'),
  endpointSlugImmutable: rule('endpoints', EPS, 'an endpoint’s slug cannot be changed by PATCH (immutable after creation, the published schema since 2026-06-25)'),
  endpointDeleted: rule('endpoints', EPS, 'deleting an endpoint frees its slug; the deleted one is 404 on get, update and delete'),
  endpointUpdatedAt: rule('endpoints', EPS, 'PATCH replaces the targets and moves updated_at forward; created_at stays'),
  endpointListed: rule('endpoints', EPS, 'the list is cursor-paginated with limit and cursor, and holds what was created'),
  endpointSlugTaken: rule('endpoints', EP_NO, 'a slug already taken is refused (400)'),
  eventFields: rule('events', EVENTS, "a request's event becomes queryable within about a minute, with every documented field and no requestMetadata"),
  eventOrder: rule('events', EVENTS, 'events come back in ascending timestamp order'),
  eventDrain: rule('events', EVENTS, 'the cursor pins the window: pages continue inside it, given only the cursor, each event once'),
  usageResetAt: rule('inference', LIMITS, 'a daily usage limit gives 429 for the rest of the day, and usage shows the counters move'),
  limitZero: rule('inference', LIMITS, 'a limit of 0 admits nothing: every request under it is a 429, and another slug of the group is untouched'),
  otherWorkspaceGroup: rule('auth', 'Authentication and tenancy', 'a group of another workspace is 403 on every route that names it'),
  otherWorkspaceEndpoint: rule('endpoints', EP_NO, "another workspace's endpoint is 403 on get, update and delete; an id that does not exist is 404"),
  eventWindow: rule('events', EVENTS, 'start_time is inclusive and end_time exclusive'),
  keyUnderOwnGroup: rule('keys', KEYS, 'keys are addressed under their own group only'),
  childMode: rule('hierarchy', HIER, "a child declaring another mode than its parent's is refused (400)"),
} as const satisfies Record<string, ProxyRule>;

export type RuleKey = keyof typeof RULES;

/** Every rule the proxy can name in a verdict. */
export const PROXY_RULES: readonly ProxyRule[] = Object.values(RULES);

const GROUP_READS = ['createGroup', 'getGroup', 'listGroups', 'updateGroup'];

/**
 * The operations whose exchanges each rule judges (the report lists those seen; `*` is
 * every documented operation). Seeing one does not exercise the rule: it is `passed` only
 * once the checker evaluated its condition (TrafficChecker.evaluatedRules()).
 */
export const JUDGED_OPERATIONS: Record<RuleKey, readonly string[] | '*'> = {
  contract: '*',
  requestId: '*',
  inferenceErrorForm: ['createChatCompletion'],
  managementRateLimit: '*',
  inference429: ['createChatCompletion'],
  readsBackAsCreated: ['createGroup', 'getGroup'],
  patchReplaces: ['updateGroup'],
  patchClears: ['updateGroup'],
  patchOmitted: ['updateGroup'],
  patchEmpty: ['updateGroup'],
  patchNeither: ['updateGroup'],
  effectiveModels: GROUP_READS,
  parentDeleted: ['createGroup'],
  secretOnce: ['createApiKey', 'listApiKeys', 'getApiKey'],
  nameNull: ['createApiKey'],
  revokedIs404: ['revokeApiKey'],
  revokedRefused: ['revokeApiKey'],
  subtree404: ['deleteGroup'],
  deletedAt: ['deleteGroup'],
  deletedLeaveList: ['deleteGroup'],
  subtreeKeysRefused: ['deleteGroup'],
  drainKeys: ['listApiKeys'],
  drainGroups: ['listGroups'],
  cascadeCreate: ['createGroup'],
  cascadeRaise: ['updateGroup'],
  cascadeLower: ['updateGroup'],
  negativeThreshold: ['createGroup'],
  metadataRequired: ['createGroup'],
  modelsRequired: ['createGroup'],
  hierarchyRequired: ['createGroup'],
  externalIdUnique: ['createGroup'],
  endpointSlugImmutable: ['updateEndpoint'],
  endpointDeleted: ['deleteEndpoint'],
  endpointUpdatedAt: ['updateEndpoint'],
  endpointListed: ['listEndpoints'],
  endpointSlugTaken: ['createEndpoint'],
  eventFields: ['listBillingEvents'],
  eventOrder: ['listBillingEvents'],
  eventDrain: ['listBillingEvents'],
  usageResetAt: ['getGroupUsage'],
  limitZero: ['createChatCompletion'],
  otherWorkspaceGroup: ['getGroup', 'updateGroup', 'deleteGroup', 'getGroupUsage', 'listApiKeys', 'createApiKey'],
  otherWorkspaceEndpoint: ['getEndpoint', 'updateEndpoint', 'deleteEndpoint'],
  eventWindow: ['listBillingEvents'],
  keyUnderOwnGroup: ['getApiKey', 'revokeApiKey'],
  childMode: ['createGroup'],
};
