import type { HandlerMap } from '../registry.js';
import { page, ws } from './groups.js';

/** Endpoints: translate the request, call the endpoint service, return its view. */

export const endpointHandlers: HandlerMap = {
  createEndpoint: (ctx) => ({ body: ctx.mock.gateway.endpoints.create(ws(ctx), ctx.body) }),
  listEndpoints: (ctx) => ({ body: ctx.mock.gateway.endpoints.list(ws(ctx), page(ctx)) }),
  getEndpoint: (ctx) => ({ body: ctx.mock.gateway.endpoints.get(ws(ctx), ctx.params.endpoint_id) }),
  updateEndpoint: (ctx) => ({ body: ctx.mock.gateway.endpoints.update(ws(ctx), ctx.params.endpoint_id, ctx.body) }),
  deleteEndpoint: (ctx) => ({ body: ctx.mock.gateway.endpoints.delete(ws(ctx), ctx.params.endpoint_id) }),
};
