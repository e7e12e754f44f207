/**
 * PKCE (RFC 7636) and `state` for the authorization code flow: a random
 * verifier stays in this tab, only its S256 challenge goes to the issuer, so a
 * code intercepted on its way back is useless to anyone else.
 */

/** Unpadded base64url (RFC 4648 section 5), as PKCE and JWTs use it. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The bytes of an unpadded base64url string; throws on anything else. */
export function fromBase64url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function randomBase64url(byteLength: number): string {
  const bytes = new Uint8Array(byteLength);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

/** 32 random bytes: a 43-character verifier, the length RFC 7636 recommends. */
export function createVerifier(): string {
  return randomBase64url(32);
}

/** An unguessable `state`, checked when the issuer sends the visitor back. */
export function createState(): string {
  return randomBase64url(16);
}

/** The S256 challenge: base64url(SHA-256(ASCII(verifier))). */
export async function challengeFor(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
