import { expect, it } from 'vitest';
import { describeTarget } from '../conformance/support/target.js';

const live = { FGW_BASE_URL: 'https://api.example.test/', FGW_API_KEY: 'k' };

it('FGW_INFERENCE_BASE_URL is taken with or without the trailing /v1 the OpenAI SDK base_url has', () => {
  for (const url of ['https://inference.example.test', 'https://inference.example.test/', 'https://inference.example.test/v1', 'https://inference.example.test/v1/']) {
    expect(describeTarget({ ...live, FGW_INFERENCE_BASE_URL: url }).inferenceBaseUrl, url).toBe('https://inference.example.test');
  }
  expect(describeTarget(live).inferenceBaseUrl).toBe('https://api.example.test');
});

it("the mock's own choices are asserted only against this mock", () => {
  expect(describeTarget({}).capabilities.has('mock')).toBe(true);
  expect(describeTarget(live).capabilities.has('mock')).toBe(false);
  expect(describeTarget({ ...live, FGW_CAPABILITIES: 'mock-admin' }).capabilities.has('mock')).toBe(true);
});
