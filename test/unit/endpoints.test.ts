import { describe, expect, it } from 'vitest';
import { checkBaseUrl, checkSlugOwned, describeTarget, normalizeTarget, normalizeTargets, type EndpointTargetInput } from '../../src/domain/endpoints.js';
import { GatewayError } from '../../src/domain/errors.js';

const org = { orgPrefixes: ['your-org', 'my-org'], environments: ['production', 'staging'] };
const refusal = (fn: () => unknown): GatewayError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    expect((e as GatewayError).kind).toBe('invalid_request');
    return e as GatewayError;
  }
  throw new Error('expected a 400');
};
const NULLS = { model_id: null, environment_name: null, secret_id: null, target_model: null, vertex_config: null, base_url: null };

describe('endpoint targets', () => {
  it('BASETEN: model_id required; environment omitted or production means production; staging known; target_model optional', () => {
    expect(normalizeTarget({ provider: 'BASETEN', model_id: 'abc' }, org)).toEqual({ ...NULLS, provider: 'BASETEN', model_id: 'abc', environment_name: 'production' });
    expect(normalizeTarget({ provider: 'BASETEN', model_id: 'abc', environment_name: 'staging', target_model: 't' }, org)).toMatchObject({ environment_name: 'staging', target_model: 't' });
    expect(refusal(() => normalizeTarget({ provider: 'BASETEN' }, org)).param).toBe('targets[0].model_id');
    const env = refusal(() => normalizeTarget({ provider: 'BASETEN', model_id: 'abc', environment_name: 'canary' }, org));
    expect(env.code).toBe('unknown_environment');
    expect(env.message).toContain('production, staging');
    expect(refusal(() => normalizeTarget({ provider: 'BASETEN', model_id: 'abc', secret_id: 's' }, org)).code).toBe('field_not_applicable');
  });

  it.each([
    ['ANTHROPIC', { secret_id: 's', target_model: 'claude' }],
    ['OPENAI', { secret_id: 's', target_model: 'gpt-4o' }],
    ['VERTEX', { secret_id: 's', target_model: 'gemini', vertex_config: { project_id: 'p', location: 'europe-west4' } }],
    ['OPENAI_COMPATIBLE', { secret_id: 's', target_model: 'm', base_url: 'https://llm.example.com/v1' }],
    ['BASETEN_MODEL_API', { target_model: 'deepseek-ai/DeepSeek-V3' }],
  ] as const)('%s: its required fields make a target; every other field comes back null', (provider, fields) => {
    const t = normalizeTarget({ provider, ...fields } as EndpointTargetInput, org);
    expect(t).toEqual({ ...NULLS, provider, ...fields });
    for (const field of Object.keys(fields)) {
      const without = { provider, ...fields, [field]: null } as EndpointTargetInput;
      expect(refusal(() => normalizeTarget(without, org)).code, field).toBe('missing_target_field');
    }
    for (const [field, value] of [['model_id', 'abc'], ['environment_name', 'production']] as const) {
      expect(refusal(() => normalizeTarget({ provider, ...fields, [field]: value } as EndpointTargetInput, org)).param).toBe(`targets[0].${field}`);
    }
  });

  it('vertex_config only with VERTEX, base_url only with OPENAI_COMPATIBLE, secret_id never with Baseten model APIs', () => {
    const vc = { project_id: 'p', location: 'l' };
    expect(refusal(() => normalizeTarget({ provider: 'OPENAI', secret_id: 's', target_model: 'm', vertex_config: vc }, org)).param).toBe('targets[0].vertex_config');
    expect(refusal(() => normalizeTarget({ provider: 'OPENAI', secret_id: 's', target_model: 'm', base_url: 'https://x.example' }, org)).param).toBe('targets[0].base_url');
    expect(refusal(() => normalizeTarget({ provider: 'BASETEN_MODEL_API', target_model: 'm', secret_id: 's' }, org)).param).toBe('targets[0].secret_id');
  });

  it('base_url: HTTPS only, no port (not even 443), no credentials', () => {
    expect(() => checkBaseUrl('https://llm.example.com/v1')).not.toThrow();
    for (const bad of ['http://llm.example.com', 'https://llm.example.com:8443/v1', 'https://llm.example.com:443', 'https://u:p@llm.example.com', 'not a url', 'https://[::1]:8080/']) {
      expect(refusal(() => checkBaseUrl(bad)).code, bad).toBe('invalid_base_url');
    }
    expect(() => checkBaseUrl('https://[::1]/v1')).not.toThrow();
  });

  it('exactly one target: none or two are 400', () => {
    const one = { provider: 'BASETEN', model_id: 'a' } as const;
    expect(normalizeTargets([one], org)).toHaveLength(1);
    expect(refusal(() => normalizeTargets([], org)).message).toBe('targets must hold exactly one target; this request has 0.');
    expect(refusal(() => normalizeTargets([one, one], org)).code).toBe('invalid_target_count');
  });
});

describe('endpoint slugs and routing description', () => {
  it('the slug prefix must be one the organisation owns', () => {
    expect(() => checkSlugOwned('your-org/m', org)).not.toThrow();
    expect(() => checkSlugOwned('my-org/m', org)).not.toThrow();
    const e = refusal(() => checkSlugOwned('someone-else/m', org));
    expect(e.code).toBe('org_prefix_not_owned');
    expect(e.message).toContain('your-org, my-org');
  });

  it('describes a target in one header-safe line', () => {
    expect(describeTarget(normalizeTarget({ provider: 'BASETEN', model_id: 'abc' }, org))).toBe('BASETEN model_id=abc environment=production');
    expect(describeTarget(normalizeTarget({ provider: 'OPENAI', secret_id: 's', target_model: 'gpt-4o' }, org))).toBe('OPENAI target_model=gpt-4o');
    expect(describeTarget(normalizeTarget({ provider: 'OPENAI', secret_id: 's', target_model: 'modèle' }, org))).toBe('OPENAI target_model=mod?le');
  });
});
