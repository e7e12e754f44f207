// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { CONFIG, ISSUER, MemoryStorage, idToken, tokenResponse } from '../test/auth.ts';
import { json, mockFetch, networkDown } from '../test/http.ts';
import {
  AuthError,
  PENDING_KEY,
  beginSignIn,
  completeSignIn,
  emailOf,
  signOutUrl,
  withoutCallback,
} from './flow.ts';
import { challengeFor } from './pkce.ts';

async function started(storage: MemoryStorage): Promise<{ url: URL; state: string }> {
  const url = new URL(await beginSignIn(CONFIG, storage));
  return { url, state: url.searchParams.get('state') ?? '' };
}

function callback(query: Record<string, string>): URL {
  return new URL(`http://localhost/?${new URLSearchParams(query).toString()}`);
}

async function refusal(promise: Promise<unknown>): Promise<AuthError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (caught: unknown) => caught,
  );
  if (!(error instanceof AuthError)) throw error;
  return error;
}

describe('beginSignIn', () => {
  it('sends the S256 challenge of a verifier it keeps, and a state', async () => {
    const storage = new MemoryStorage();
    const { url, state } = await started(storage);

    expect(`${url.origin}${url.pathname}`).toBe(CONFIG.authorizeUrl);
    const params = Object.fromEntries(url.searchParams);
    expect(params).toMatchObject({
      response_type: 'code',
      client_id: 'web-client',
      redirect_uri: 'http://localhost/',
      scope: 'openid email',
      code_challenge_method: 'S256',
    });
    const pending = JSON.parse(storage.getItem(PENDING_KEY) ?? '{}') as Record<string, string>;
    expect(pending['state']).toBe(state);
    expect(params['code_challenge']).toBe(await challengeFor(pending['verifier'] ?? ''));
    expect(params['code_challenge']).not.toBe(pending['verifier']);
  });
});

describe('completeSignIn', () => {
  it('is nothing to do on a URL without a code', async () => {
    const url = new URL('http://localhost/');
    await expect(completeSignIn(CONFIG, url, new MemoryStorage())).resolves.toBeNull();
  });

  it('exchanges the code with its verifier at the token endpoint', async () => {
    const storage = new MemoryStorage();
    const { state } = await started(storage);
    const { verifier } = JSON.parse(storage.getItem(PENDING_KEY) ?? '{}') as { verifier: string };
    const api = mockFetch({ 'POST /oauth2/token': () => tokenResponse('access-1', 'a@b.test') });

    const session = await completeSignIn(CONFIG, callback({ code: 'abc', state }), storage);

    expect(session).toMatchObject({ accessToken: 'access-1', email: 'a@b.test' });
    const [request] = api.requests;
    expect(api.fetch.mock.calls[0]?.[0]).toBe(`${ISSUER}/oauth2/token`);
    expect(request?.headers.get('Content-Type')).toBe('application/x-www-form-urlencoded');
    expect(request?.body).toEqual({
      grant_type: 'authorization_code',
      client_id: 'web-client',
      code: 'abc',
      redirect_uri: 'http://localhost/',
      code_verifier: verifier,
    });
    expect(storage.getItem(PENDING_KEY)).toBeNull();
  });

  it('refuses a state it did not send, without calling the token endpoint', async () => {
    const storage = new MemoryStorage();
    await started(storage);
    const api = mockFetch({});

    const error = await refusal(
      completeSignIn(CONFIG, callback({ code: 'abc', state: 'forged' }), storage),
    );

    expect(error.message).toBe('That sign-in was not started from this page. Sign in again.');
    expect(api.requests).toHaveLength(0);
    // The pending sign-in is spent: the right state cannot be tried next.
    expect(storage.getItem(PENDING_KEY)).toBeNull();
  });

  it('refuses an answer when no sign-in was started, or a second time', async () => {
    const storage = new MemoryStorage();
    const { state } = await started(storage);
    mockFetch({ 'POST /oauth2/token': () => tokenResponse('access-1', 'a@b.test') });
    await completeSignIn(CONFIG, callback({ code: 'abc', state }), storage);

    await refusal(completeSignIn(CONFIG, callback({ code: 'abc', state }), storage));
    await refusal(completeSignIn(CONFIG, callback({ code: 'abc', state }), new MemoryStorage()));
  });

  it('says why when the issuer sends an error back', async () => {
    const storage = new MemoryStorage();
    const { state } = await started(storage);
    const url = callback({ error: 'invalid_request', error_description: 'PKCE is required', state });

    expect((await refusal(completeSignIn(CONFIG, url, storage))).message).toBe(
      'Sign-in failed: PKCE is required. Try again.',
    );
  });

  it.each([
    ['an OAuth error', () => json({ error: 'invalid_grant' }, { status: 400 }), 'invalid_grant'],
    ['no answer', () => networkDown(), 'unreachable'],
    ['an unreadable answer', () => json({ access_token: 'x' }), 'cannot read'],
    [
      'an ID token without an email',
      () => json({ access_token: 'x', id_token: 'x.e30.y', token_type: 'Bearer', expires_in: 1 }),
      'without an email',
    ],
  ])('refuses a failed exchange: %s', async (_name, answer, message) => {
    const storage = new MemoryStorage();
    const { state } = await started(storage);
    mockFetch({ 'POST /oauth2/token': answer });

    const error = await refusal(completeSignIn(CONFIG, callback({ code: 'abc', state }), storage));
    expect(error.message).toContain(message);
  });
});

describe('helpers', () => {
  it('reads the email of an ID token and refuses one without it', () => {
    expect(emailOf(idToken('ada@example.com'))).toBe('ada@example.com');
    expect(() => emailOf('not-a-token')).toThrow(AuthError);
  });

  it('strips the issuer parameters from the URL and keeps the rest', () => {
    const url = new URL('http://localhost/list?code=a&state=b&keep=1#top');
    expect(withoutCallback(url)).toBe('/list?keep=1#top');
  });

  it('signs out at the issuer with the client id and the logout URI', () => {
    expect(signOutUrl(CONFIG)).toBe(
      `${ISSUER}/logout?client_id=web-client&logout_uri=http%3A%2F%2Flocalhost%2F`,
    );
  });
});
