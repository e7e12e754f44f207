// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { CONFIG } from '../test/auth.ts';
import { html, json, mockFetch, networkDown } from '../test/http.ts';
import { ConfigError, isAuthConfig, loadConfig } from './config.ts';

describe('the runtime config', () => {
  it('is read from /config.json, uncached', async () => {
    const api = mockFetch({ 'GET /config.json': () => json({ auth: CONFIG }) });
    await expect(loadConfig()).resolves.toEqual(CONFIG);
    expect(api.fetch.mock.calls[0]?.[1]?.cache).toBe('no-store');
  });

  it.each([
    ['a missing field', { ...CONFIG, tokenUrl: undefined }],
    ['an empty client id', { ...CONFIG, clientId: '' }],
    ['a URL that is not one', { ...CONFIG, authorizeUrl: 'javascript:alert(1)' }],
    ['scopes that are not strings', { ...CONFIG, scopes: [1] }],
  ])('refuses %s', (_name, config) => {
    expect(isAuthConfig(config)).toBe(false);
  });

  it.each([
    ['not found', () => html(404, 'Not Found'), "The app's settings could not be loaded."],
    ['unreachable', () => networkDown(), "The app's settings could not be loaded."],
    ['not the shape', () => json({ auth: { issuer: 'x' } }), 'are not valid'],
  ])('says so when the file is %s', async (_name, answer, message) => {
    mockFetch({ 'GET /config.json': answer });
    const error: unknown = await loadConfig().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(message);
  });
});
