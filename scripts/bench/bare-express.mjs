// Baseline for the read routes: bare Express 5 answering fixed JSON (the body the mock
// answered for the same route, passed in BENCH_FIXED_JSON so payload sizes match).
import express from 'express';

const fixed = JSON.parse(process.env.BENCH_FIXED_JSON ?? '{"items":[],"pagination":{"has_more":false,"cursor":null}}');
const app = express();
app.get('/v1/gateway/groups', (_req, res) => res.json(fixed.list ?? fixed));
app.get('/v1/gateway/groups/:id', (_req, res) => res.json(fixed.one ?? fixed));
const server = app.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
