import { rawBodyOf } from '../raw-body.js';
import type { Ctx, HandlerMap } from '../registry.js';

/** Groups and their keys: translate the request, call the service, return its view. */

export const ws = (ctx: Ctx): string => (ctx.workspace as { id: string }).id;
export const page = (ctx: Ctx) => ({
  limit: ctx.query.limit as number,
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
  getGroup: (ctx) => ({ body: ctx.mock.gateway.groups.get(ws(ctx), ctx.params.group_id as string) }),
  updateGroup: (ctx) => ({ body: ctx.mock.gateway.groups.update(ws(ctx), ctx.params.group_id as string, ctx.body) }),
  deleteGroup: (ctx) => ({ body: ctx.mock.gateway.groups.delete(ws(ctx), ctx.params.group_id as string) }),
  getGroupUsage: (ctx) => ({ body: ctx.mock.gateway.usage.groupUsage(ws(ctx), ctx.params.group_id as string) }),
  createApiKey: (ctx) => ({ body: ctx.mock.gateway.keys.mint(ws(ctx), ctx.params.group_id as string, ctx.body?.name) }),
  registerApiKey: (ctx) => ({
    body: ctx.mock.gateway.keys.register(ws(ctx), ctx.params.group_id as string, ctx.body, rawBodyOf(ctx.req), ctx.req.headers['x-baseten-signature']),
  }),
  listApiKeys: (ctx) => ({ body: ctx.mock.gateway.keys.list(ws(ctx), ctx.params.group_id as string, page(ctx)) }),
  getApiKey: (ctx) => ({
    body: ctx.mock.gateway.keys.get(ws(ctx), ctx.params.group_id as string, ctx.params.api_key_prefix as string),
  }),
  revokeApiKey: (ctx) => ({
    body: ctx.mock.gateway.keys.revoke(ws(ctx), ctx.params.group_id as string, ctx.params.api_key_prefix as string),
  }),
};
