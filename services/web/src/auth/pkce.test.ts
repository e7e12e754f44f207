// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { base64url, challengeFor, createState, createVerifier, fromBase64url } from './pkce.ts';

// RFC 7636 appendix B.
const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('PKCE', () => {
  it('encodes base64url without padding and decodes it back', () => {
    const bytes = new Uint8Array([251, 255, 191, 0, 1]);
    expect(base64url(bytes)).toBe('-_-_AAE');
    expect(Array.from(fromBase64url('-_-_AAE'))).toEqual(Array.from(bytes));
    expect(() => fromBase64url('a+b=')).toThrow();
  });

  it("computes the S256 challenge as base64url(sha256(verifier)): the RFC's example", async () => {
    await expect(challengeFor(RFC_VERIFIER)).resolves.toBe(RFC_CHALLENGE);
  });

  it('matches SHA-256 of the verifier computed independently', async () => {
    const verifier = createVerifier();
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    await expect(challengeFor(verifier)).resolves.toBe(base64url(new Uint8Array(digest)));
  });

  it('makes fresh 43-character verifiers of unreserved characters, and fresh states', () => {
    const verifiers = new Set(Array.from({ length: 20 }, createVerifier));
    expect(verifiers.size).toBe(20);
    for (const verifier of verifiers) expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(createState()).not.toBe(createState());
    expect(createState()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
