/**
 * Where each documented rule comes from: every conformance file covers one documented
 * area, so a rule's source defaults to its file's page (or, for a file that covers
 * several, its topic's). A rule declared with `{ source: '...' }` names its own; a mock
 * choice's source is always its AMBIGUITIES.md entry. "seed:" pages are the five the
 * project started from; "docs:" pages are the rest of the published documentation (see
 * the facts file the project keeps beside the seeds).
 */

/** File (without .test.ts) -> the page behind its documented rules. */
export const FILE_SOURCES: Readonly<Record<string, string>> = {
  lifecycle: 'seed: Manage groups and API keys (quick start); Create, List, Update, Delete a group',
  hierarchy: 'docs: Rate and usage limits (hierarchies, INDEPENDENT mode, effective_models)',
  cascade: 'docs: Rate and usage limits (CASCADING mode)',
  patch: 'seed: Update a group',
  delete: 'seed: Delete a group',
  pagination: 'seed: List groups; docs: API keys reference (list keys)',
  keys: 'seed: Manage groups and API keys; docs: API keys reference (mint, get, revoke)',
  auth: 'docs: Authentication; gateway reference pages (403 and 404)',
  'field-rules': 'docs: Rate and usage limits; seed: Create a group (field rules)',
  inference: 'docs: Call your model (OpenAI-compatible inference)',
  endpoints: 'docs: Endpoints guide and reference',
  events: 'docs: Billing events API (GET /v1/gateway/events)',
  register: 'docs: Register a caller-supplied key',
  responses: 'docs: gateway reference pages (the OpenAPI document)',
};

/** `<file>#<topic>` -> the page, for files whose topics come from different pages. */
export const AREA_SOURCES: Readonly<Record<string, string>> = {
  'inference#Limits are enforced on traffic': 'docs: Rate and usage limits (enforcement, 429, usage)',
  'inference#Billing webhooks': 'docs: Billing webhooks',
};

export function sourceOf(file: string, area: string, kind: string, ambiguity: string | undefined, own: string | undefined): string {
  if (kind === 'mock-choice') return `AMBIGUITIES.md #${ambiguity ?? '?'}`;
  return own ?? AREA_SOURCES[`${file}#${area}`] ?? FILE_SOURCES[file] ?? `the ${file} area`;
}
