import { rawBodyOf } from '../raw-body.js';
import type { Ctx, HandlerMap } from '../registry.js';

/** Groups: translate the request, call the backend, return its view. */

export const ws = (ctx: Ctx): string => (ctx.workspace as { id: string }).id;
export const page = (ctx: Ctx) => ({
  limit: ctx.query.limit as number,
  ...(ctx.query.cursor !== undefined ? { cursor: String(ctx.query.cursor) } : {}),
});

export const groupHandlers: HandlerMap = {
  createGroup: (ctx) => ({ body: ctx.mock.gateway.createGroup(ws(ctx), ctx.body) }),
  listGroups: (ctx) => ({
    body: ctx.mock.gateway.listGroups(ws(ctx), {
      ...page(ctx),
      ...(ctx.query.external_entity_id !== undefined ? { externalEntityId: String(ctx.query.external_entity_id) } : {}),
    }),
  }),
  getGroup: (ctx) => ({ body: ctx.mock.gateway.getGroup(ws(ctx), ctx.params.group_id as string) }),
  updateGroup: (ctx) => ({ body: ctx.mock.gateway.updateGroup(ws(ctx), ctx.params.group_id as string, ctx.body) }),
  deleteGroup: (ctx) => ({ body: ctx.mock.gateway.deleteGroup(ws(ctx), ctx.params.group_id as string) }),
  getGroupUsage: (ctx) => ({ body: ctx.mock.gateway.groupUsage(ws(ctx), ctx.params.group_id as string) }),
  createApiKey: (ctx) => ({ body: ctx.mock.gateway.mintKey(ws(ctx), ctx.params.group_id as string, ctx.body?.name) }),
  registerApiKey: (ctx) => ({
    body: ctx.mock.gateway.registerKey(ws(ctx), ctx.params.group_id as string, ctx.body, rawBodyOf(ctx.req), ctx.req.headers['x-baseten-signature']),
  }),
  listApiKeys: (ctx) => ({ body: ctx.mock.gateway.listKeys(ws(ctx), ctx.params.group_id as string, page(ctx)) }),
  getApiKey: (ctx) => ({
    body: ctx.mock.gateway.getKey(ws(ctx), ctx.params.group_id as string, ctx.params.api_key_prefix as string),
  }),
  revokeApiKey: (ctx) => ({
    body: ctx.mock.gateway.revokeKey(ws(ctx), ctx.params.group_id as string, ctx.params.api_key_prefix as string),
  }),
};
