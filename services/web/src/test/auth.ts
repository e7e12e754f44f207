/** Fixtures for the sign-in tests: a runtime config, a storage, tokens. */
import type { AuthConfig } from '../auth/config.ts';
import { base64url } from '../auth/pkce.ts';
import { json } from './http.ts';

export const ISSUER = 'http://issuer.test';

export const CONFIG: AuthConfig = {
  issuer: ISSUER,
  clientId: 'web-client',
  authorizeUrl: `${ISSUER}/oauth2/authorize`,
  tokenUrl: `${ISSUER}/oauth2/token`,
  logoutUrl: `${ISSUER}/logout`,
  redirectUri: 'http://localhost/',
  logoutUri: 'http://localhost/',
  scopes: ['openid', 'email'],
};

/** A Storage in memory, for tests that run outside a DOM. */
export class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>();

  get length(): number {
    return this.items.size;
  }

  clear(): void {
    this.items.clear();
  }

  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }

  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }

  removeItem(key: string): void {
    this.items.delete(key);
  }

  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

function encodeJson(value: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

/** An unsigned JWT-shaped ID token: the app only reads its email. */
export function idToken(email: string): string {
  return `${encodeJson({ alg: 'RS256', kid: 'k' })}.${encodeJson({ email, token_use: 'id' })}.sig`;
}

export function tokenResponse(accessToken: string, email: string): Response {
  return json({
    access_token: accessToken,
    id_token: idToken(email),
    token_type: 'Bearer',
    expires_in: 3600,
  });
}
