import SwaggerParser from '@apidevtools/swagger-parser';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createMock } from '../../src/app.js';
import { adminHandlers } from '../../src/http/handlers/admin.js';
import { groupHandlers } from '../../src/http/handlers/groups.js';
import { inferenceHandlers } from '../../src/http/handlers/inference.js';
import { bindHandlers, RegistryMismatchError, type HandlerMap } from '../../src/http/registry.js';
import { ADMIN_SPEC_PATH, GATEWAY_SPEC_PATH, loadSpecs } from '../../src/http/spec.js';

describe('the OpenAPI documents', () => {
  it.each([GATEWAY_SPEC_PATH, ADMIN_SPEC_PATH])('%s validates with swagger-parser as OpenAPI 3.1', async (path) => {
    const api = (await SwaggerParser.validate(path)) as { openapi: string };
    expect(api.openapi).toBe('3.1.0');
  });

  it('both lint clean, warnings included, with `redocly lint` and its recommended rules (redocly.yaml)', () => {
    const cli = createRequire(import.meta.url).resolve('@redocly/cli/bin/cli.js');
    // One run per API of redocly.yaml, each printing one JSON report.
    for (const api of ['gateway', 'admin']) {
      const out = execFileSync(process.execPath, [cli, 'lint', api, '--format=json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const report = JSON.parse(out) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
      expect(report.problems.map((p) => `${api} ${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    }
  }, 60_000);

  it('documents every published gateway operation (groups, keys, register, endpoints, billing events, inference), with the shared error schema', async () => {
    const { operations: all } = await loadSpecs(false);
    // Without the admin routes only the health route and the root (pointing to them) stay of the admin document.
    expect(all.filter((o) => o.document === 'admin').map((o) => o.id)).toEqual(['getMockHealth', 'getMockRoot']);
    const operations = all.filter((o) => o.document === 'gateway');
    expect(operations.map((o) => o.id).sort()).toEqual(
      [
        'createApiKey',
        'createChatCompletion',
        'createEndpoint',
        'createGroup',
        'deleteEndpoint',
        'deleteGroup',
        'getApiKey',
        'getEndpoint',
        'getGroup',
        'getGroupUsage',
        'listApiKeys',
        'listBillingEvents',
        'listEndpoints',
        'listGroups',
        'listModels',
        'registerApiKey',
        'revokeApiKey',
        'updateEndpoint',
        'updateGroup',
      ].sort(),
    );
    for (const op of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (status.startsWith('4')) {
          // The shared error schema: either form (Baseten's documented one, or OpenAI's), each an object with `error`.
          const schema = (response.content?.['application/json']?.schema ?? {}) as { anyOf?: { required?: string[] }[] };
          expect(schema.anyOf?.map((s) => s.required), `${op.id} ${status}`).toEqual([['error'], ['error']]);
        }
      }
      // The management API's own rate limit applies to every management route (AMBIGUITIES.md #88).
      if (op.auth === 'workspace') expect(op.responses['429']?.description, `${op.id} 429`).toMatch(/100 requests per second per API key/);
    }
    for (const id of ['listGroups', 'listApiKeys', 'listEndpoints', 'listBillingEvents']) {
      const names = operations.find((o) => o.id === id)!.parameters.map((p) => p.name);
      expect(names, id).toEqual(expect.arrayContaining(['limit', 'cursor']));
    }
    const list = operations.find((o) => o.id === 'listGroups')!;
    const limit = list.parameters.find((p) => p.name === 'limit')!.schema as Record<string, unknown>;
    expect(limit).toMatchObject({ minimum: 1, maximum: 1000, default: 100 });
  });
});

describe('request bodies', () => {
  it('every object a management body may hold lists its fields (additionalProperties: false), so unknown fields are found generically', async () => {
    const { operations } = await loadSpecs(true);
    const loose: string[] = [];
    const walk = (schema: Record<string, any> | undefined, at: string) => {
      if (!schema || typeof schema !== 'object') return;
      const types = [schema.type].flat();
      if (types.includes('object') && schema.properties && schema.additionalProperties !== false) loose.push(at);
      for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v as Record<string, any>, `${at}.${k}`);
      if (schema.items) walk(schema.items, `${at}[]`);
      for (const key of ['oneOf', 'anyOf', 'allOf']) if (schema[key]) loose.push(`${at} uses ${key}`);
    };
    for (const op of operations.filter((o) => o.auth === 'workspace')) {
      walk(op.requestBody?.content?.['application/json']?.schema as Record<string, any> | undefined, op.id);
    }
    expect(loose).toEqual([]);
  });
});

describe('the operation registry', () => {
  it('stops start-up when an operation has no handler', async () => {
    const { operations } = await loadSpecs(true);
    const { getGroup: _dropped, ...rest } = groupHandlers;
    expect(() => bindHandlers(operations, { ...rest, ...inferenceHandlers, ...adminHandlers })).toThrow(/operation "getGroup" in the spec has no handler/);
  });

  it('stops start-up when a handler has no operation', async () => {
    const { operations } = await loadSpecs(false);
    expect(() => bindHandlers(operations, { ...groupHandlers, ...inferenceHandlers, ...adminHandlers })).toThrow(RegistryMismatchError);
    expect(() => bindHandlers(operations, { ...groupHandlers, ...inferenceHandlers, extraThing: () => ({ body: {} }) } as unknown as HandlerMap)).toThrow(/handler "extraThing" has no operation/);
  });

  it('binds every operation of both documents when admin is on, and only the gateway ones (and health and the root) when off', async () => {
    expect((await createMock()).operations).toHaveLength(39);
    expect((await createMock({ admin: false })).operations).toHaveLength(21);
  });
});
