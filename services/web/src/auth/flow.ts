/**
 * The authorization code flow with PKCE against the issuer's managed login
 * (Cognito in AWS, the dev stack's issuer locally); see docs/auth.md.
 *
 * Only the one-time PKCE verifier and `state` survive the redirect, in this
 * tab's sessionStorage, and are removed on return. The tokens are kept in
 * memory by the caller, never stored.
 */
import type { AuthConfig } from './config.ts';
import { challengeFor, createState, createVerifier, fromBase64url } from './pkce.ts';

export const PENDING_KEY = 'todo.auth.pending';
/** Set while signed in, so a reload goes back through authorize (no prompt). */
export const RESUME_KEY = 'todo.auth.resume';
const CALLBACK_PARAMS = ['code', 'state', 'error', 'error_description', 'error_uri'];

export interface Session {
  accessToken: string;
  email: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export class AuthError extends Error {
  override readonly name = 'AuthError';
}

interface Pending {
  state: string;
  verifier: string;
}

interface TokenResponse {
  access_token: string;
  id_token: string;
  token_type: string;
  expires_in: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTokenResponse(value: unknown): value is TokenResponse {
  return (
    isRecord(value) &&
    typeof value['access_token'] === 'string' &&
    typeof value['id_token'] === 'string' &&
    typeof value['token_type'] === 'string' &&
    value['token_type'].toLowerCase() === 'bearer' &&
    typeof value['expires_in'] === 'number'
  );
}

/** The URL that starts a sign-in; remembers its verifier and state in `storage`. */
export async function beginSignIn(
  config: AuthConfig,
  storage: Storage = sessionStorage,
): Promise<string> {
  const pending: Pending = { state: createState(), verifier: createVerifier() };
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    scope: config.scopes.join(' '),
    state: pending.state,
    code_challenge: await challengeFor(pending.verifier),
    code_challenge_method: 'S256',
  });
  storage.setItem(PENDING_KEY, JSON.stringify(pending));
  return `${config.authorizeUrl}?${params.toString()}`;
}

/** The pending sign-in, removed: a response is good for one attempt only. */
function takePending(storage: Storage): Pending | null {
  const raw = storage.getItem(PENDING_KEY);
  storage.removeItem(PENDING_KEY);
  try {
    const value: unknown = raw === null ? null : JSON.parse(raw);
    if (isRecord(value) && typeof value['state'] === 'string') {
      if (typeof value['verifier'] === 'string') {
        return { state: value['state'], verifier: value['verifier'] };
      }
    }
  } catch {
    // Not ours: as good as none.
  }
  return null;
}

export function isCallback(url: URL): boolean {
  return url.searchParams.has('code') || url.searchParams.has('error');
}

/** The URL without the issuer's parameters, for history.replaceState. */
export function withoutCallback(url: URL): string {
  const clean = new URL(url.href);
  for (const name of CALLBACK_PARAMS) clean.searchParams.delete(name);
  return `${clean.pathname}${clean.search}${clean.hash}`;
}

/**
 * The session the issuer's answer in `url` stands for, or null if `url` is no
 * answer. AuthError if it is refused: a `state` this tab did not send (a
 * forged or replayed response), an error from the issuer, a failed exchange.
 */
export async function completeSignIn(
  config: AuthConfig,
  url: URL,
  storage: Storage = sessionStorage,
): Promise<Session | null> {
  if (!isCallback(url)) return null;
  const pending = takePending(storage);
  if (pending === null || url.searchParams.get('state') !== pending.state) {
    throw new AuthError('That sign-in was not started from this page. Sign in again.');
  }
  const code = url.searchParams.get('code');
  if (code === null || url.searchParams.has('error')) {
    const reason = url.searchParams.get('error_description') ?? url.searchParams.get('error');
    throw new AuthError(`Sign-in failed: ${reason ?? 'no code'}. Try again.`);
  }
  return exchangeCode(config, code, pending.verifier);
}

async function exchangeCode(config: AuthConfig, code: string, verifier: string): Promise<Session> {
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: config.clientId,
    code,
    redirect_uri: config.redirectUri,
    code_verifier: verifier,
  });
  let response: Response;
  try {
    response = await fetch(config.tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
    });
  } catch {
    throw new AuthError('The sign-in service is unreachable. Try again.');
  }
  const answer: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const error = isRecord(answer) && typeof answer['error'] === 'string' ? answer['error'] : null;
    throw new AuthError(`Sign-in failed (${error ?? `HTTP ${response.status}`}). Sign in again.`);
  }
  if (!isTokenResponse(answer)) {
    throw new AuthError('The sign-in service sent an answer this app cannot read.');
  }
  return {
    accessToken: answer.access_token,
    email: emailOf(answer.id_token),
    expiresAt: Date.now() + answer.expires_in * 1000,
  };
}

/**
 * The email claim of an ID token. Read, not verified: the token came straight
 * from the token endpoint over TLS and only labels the page; what the API
 * trusts is the access token, which it verifies on every request.
 */
export function emailOf(idToken: string): string {
  try {
    const payload = idToken.split('.')[1] ?? '';
    const claims: unknown = JSON.parse(new TextDecoder().decode(fromBase64url(payload)));
    if (isRecord(claims) && typeof claims['email'] === 'string') return claims['email'];
  } catch {
    // Falls through to the error below.
  }
  throw new AuthError('The sign-in service sent an ID token without an email.');
}

/** Where "Sign out" goes: the issuer ends its session and sends the visitor back. */
export function signOutUrl(config: AuthConfig): string {
  const params = new URLSearchParams({ client_id: config.clientId, logout_uri: config.logoutUri });
  return `${config.logoutUrl}?${params.toString()}`;
}
