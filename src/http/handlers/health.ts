import type { HandlerMap } from '../registry.js';

/**
 * `GET /_mock/health` (openapi/mock-admin.yaml): served with or without the admin routes,
 * so a CI job or a container health check can wait for the mock. 503 while the state
 * file is failing: the mock still serves, but acknowledged writes are not being kept.
 */
export const healthHandlers: HandlerMap = {
  getMockHealth: (ctx) => {
    const health = ctx.mock.health();
    const failing = health.state_file !== null && !health.state_file.ok;
    return { status: failing ? 503 : 200, body: { status: failing ? 'failing' : 'ok', ...health } };
  },
};
