/**
 * The wire types of Frontier Gateway and of the mock's admin routes, generated from
 * openapi/*.yaml by openapi-typescript at build time (src/generated/): what a request
 * sends and a response holds, by schema name, and every operation by operationId.
 *
 *   import type { Group, CreateGroupRequest, ChatCompletion, BillingWebhook } from 'frontier-gateway-mock/types';
 *   import type { paths, operations } from 'frontier-gateway-mock/types';
 *
 * The mock's handlers are typed with the same operations (src/http/registry.ts).
 */
export type * from './generated/frontier-gateway.js';
export type {
  paths as AdminPaths,
  operations as AdminOperations,
  components as AdminComponents,
  Health,
  MockState,
  Snapshot as MockSnapshot,
  ReplyRuleInput,
  ReplyRule,
} from './generated/mock-admin.js';
