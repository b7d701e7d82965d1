// Baseline for the write routes: Express 5 + express.json + one ajv validator per route
// (a create-group-like and a chat-like body), answering fixed JSON.
import express from 'express';
import { Ajv2020 } from 'ajv/dist/2020.js';

const ajv = new Ajv2020({ strict: false });
const limit = { type: 'object', additionalProperties: false, required: ['type', 'unit', 'threshold'], properties: { type: { enum: ['TOKEN', 'REQUEST'] }, unit: { enum: ['MINUTE', 'HOUR', 'DAY'] }, threshold: { type: 'integer', minimum: 1 } } };
const createGroup = ajv.compile({
  type: 'object',
  additionalProperties: false,
  required: ['metadata', 'models'],
  properties: {
    metadata: { type: 'object', additionalProperties: false, required: ['external_entity_id'], properties: { name: { type: ['string', 'null'], maxLength: 255 }, external_entity_id: { type: 'string', minLength: 1, maxLength: 255 } } },
    models: { type: 'array', minItems: 1, items: { type: 'object', additionalProperties: false, required: ['slug'], properties: { slug: { type: 'string', pattern: '^[^/]+/[^/]+$' }, rate_limits: { type: 'array', items: limit }, usage_limits: { type: 'array', items: limit } } } },
    hierarchy: { type: 'object', additionalProperties: false, properties: { limit_enforcement: { enum: ['INDEPENDENT', 'CASCADING'] }, parent_group_id: { type: ['string', 'null'] } } },
  },
});
const chat = ajv.compile({
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1 },
    messages: { type: 'array', minItems: 1, items: { type: 'object', required: ['role'], properties: { role: { enum: ['system', 'user', 'assistant', 'tool', 'developer'] }, content: { type: ['string', 'array', 'null'] } } } },
    stream: { type: ['boolean', 'null'] },
    max_tokens: { type: ['integer', 'null'], minimum: 1 },
  },
});
const fixed = JSON.parse(process.env.BENCH_FIXED_JSON ?? '{}');
const app = express();
app.use(express.json({ limit: '1mb' }));
const route = (validate, body) => (req, res) => {
  if (!validate(req.body)) return res.status(400).json({ error: validate.errors?.[0]?.message });
  res.json(body);
};
app.post('/v1/gateway/groups', route(createGroup, fixed.create ?? {}));
app.post('/v1/chat/completions', route(chat, fixed.chat ?? {}));
const server = app.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
