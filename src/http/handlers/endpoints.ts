import type { HandlerMap } from '../registry.js';
import { page, ws } from './groups.js';

/** Endpoints: translate the request, call the endpoint book, return its view. */

export const endpointHandlers: HandlerMap = {
  createEndpoint: (ctx) => ({ body: ctx.mock.endpoints.create(ws(ctx), ctx.body) }),
  listEndpoints: (ctx) => ({ body: ctx.mock.endpoints.list(ws(ctx), page(ctx)) }),
  getEndpoint: (ctx) => ({ body: ctx.mock.endpoints.get(ws(ctx), ctx.params.endpoint_id as string) }),
  updateEndpoint: (ctx) => ({ body: ctx.mock.endpoints.update(ws(ctx), ctx.params.endpoint_id as string, ctx.body) }),
  deleteEndpoint: (ctx) => ({ body: ctx.mock.endpoints.delete(ws(ctx), ctx.params.endpoint_id as string) }),
};
