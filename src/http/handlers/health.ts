import type { HandlerMap } from '../registry.js';

/**
 * The routes served with or without the admin routes (openapi/mock-admin.yaml,
 * `x-fgw-always`): `GET /_mock/health`, so a CI job or a container health check can wait
 * for the mock (503 while the state file is failing: the mock still serves, but
 * acknowledged writes are not being kept), and `GET /`, which points a person to the
 * inspector and a client to the routes and docs (AMBIGUITIES.md #116).
 */

const INSPECTOR = '/_mock/';

/** The root's small page when the inspector is off (no script, no style). */
const ADMIN_OFF_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>frontier-gateway-mock</title></head>
<body><h1>frontier-gateway-mock</h1>
<p>This mock was started with <code>--no-admin</code>: the inspector and the other <code>/_mock/</code> routes are off.
The gateway's routes are served (<code>/v1/gateway/</code>, <code>/v1/chat/completions</code>), and <a href="/_mock/health">/_mock/health</a>.</p>
<p>Documentation: <code>docs/guide.md</code> and <code>docs/reference.md</code> in the frontier-gateway-mock package.</p>
</body></html>
`;

const REDIRECT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>frontier-gateway-mock</title></head>
<body><p>The inspector is at <a href="${INSPECTOR}">${INSPECTOR}</a>.</p></body></html>
`;

export const healthHandlers: HandlerMap = {
  getMockHealth: (ctx) => {
    const health = ctx.mock.health();
    const failing = health.state_file !== null && !health.state_file.ok;
    return { status: failing ? 503 : 200, body: { status: failing ? 'failing' : 'ok', ...health } };
  },
  getMockRoot: (ctx) => {
    const { admin, version } = ctx.mock.health();
    // A browser prefers HTML; curl (*/*), SDKs and anything that names JSON first get JSON.
    if (ctx.req.accepts(['application/json', 'text/html']) === 'text/html') {
      const html = { contentType: 'text/html; charset=utf-8', headers: { 'Cache-Control': 'no-store' } };
      return admin ? { ...html, status: 302, text: REDIRECT_PAGE, headers: { ...html.headers, Location: INSPECTOR } } : { ...html, text: ADMIN_OFF_PAGE };
    }
    return {
      body: {
        service: 'frontier-gateway-mock',
        version,
        message: admin
          ? `A local stand-in for Baseten Frontier Gateway. Open ${INSPECTOR} in a browser to see groups, keys, endpoints, usage and recent requests.`
          : 'A local stand-in for Baseten Frontier Gateway, started with --no-admin: the inspector and the other /_mock/ routes are off.',
        inspector: admin ? INSPECTOR : null,
        inspector_data: admin ? '/_mock/inspector.json' : null,
        health: '/_mock/health',
        api: { management: '/v1/gateway/', inference: '/v1/' },
        docs: { guide: 'docs/guide.md', reference: 'docs/reference.md', openapi: ['openapi/frontier-gateway.yaml', 'openapi/mock-admin.yaml'] },
      },
    };
  },
};
