import { rawBodyOf } from '../raw-body.js';
import type { Workspace } from '../../domain/records.js';
import type { Ctx, HandlerMap } from '../registry.js';

/** Groups and their keys: translate the request, call the service, return its view. */

/** The caller's workspace: set by authentication for every `x-fgw-auth: workspace` operation. */
export const ws = (ctx: Ctx): string => (ctx.workspace as Workspace).id;
export const page = (ctx: Ctx) => ({
  limit: ctx.query.limit as number, // validation applies the spec's default
  ...(ctx.query.cursor !== undefined ? { cursor: String(ctx.query.cursor) } : {}),
});

export const groupHandlers: HandlerMap = {
  createGroup: (ctx) => ({ body: ctx.mock.gateway.groups.create(ws(ctx), ctx.body) }),
  listGroups: (ctx) => ({
    body: ctx.mock.gateway.groups.list(ws(ctx), {
      ...page(ctx),
      ...(ctx.query.external_entity_id !== undefined ? { externalEntityId: String(ctx.query.external_entity_id) } : {}),
    }),
  }),
  getGroup: (ctx) => ({ body: ctx.mock.gateway.groups.get(ws(ctx), ctx.params.group_id) }),
  updateGroup: (ctx) => ({ body: ctx.mock.gateway.groups.update(ws(ctx), ctx.params.group_id, ctx.body) }),
  deleteGroup: (ctx) => ({ body: ctx.mock.gateway.groups.delete(ws(ctx), ctx.params.group_id) }),
  getGroupUsage: (ctx) => ({ body: ctx.mock.gateway.usage.groupUsage(ws(ctx), ctx.params.group_id) }),
  createApiKey: (ctx) => ({ body: ctx.mock.gateway.keys.mint(ws(ctx), ctx.params.group_id, ctx.body?.name) }),
  registerApiKey: (ctx) => ({
    body: ctx.mock.gateway.keys.register(ws(ctx), ctx.params.group_id, ctx.body, rawBodyOf(ctx.req), ctx.req.headers['x-baseten-signature']),
  }),
  listApiKeys: (ctx) => ({ body: ctx.mock.gateway.keys.list(ws(ctx), ctx.params.group_id, page(ctx)) }),
  getApiKey: (ctx) => ({
    body: ctx.mock.gateway.keys.get(ws(ctx), ctx.params.group_id, ctx.params.api_key_prefix),
  }),
  revokeApiKey: (ctx) => ({
    body: ctx.mock.gateway.keys.revoke(ws(ctx), ctx.params.group_id, ctx.params.api_key_prefix),
  }),
};
