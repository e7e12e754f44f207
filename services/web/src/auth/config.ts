/**
 * The runtime config, /config.json on the app's own origin: written into the
 * site bucket at deploy time in AWS, served by the dev stack locally. The same
 * build runs everywhere, so nothing environment-specific is compiled in.
 */

export interface AuthConfig {
  issuer: string;
  clientId: string;
  authorizeUrl: string;
  tokenUrl: string;
  logoutUrl: string;
  redirectUri: string;
  logoutUri: string;
  scopes: string[];
}

export const CONFIG_PATH = '/config.json';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const STRING_FIELDS = [
  'issuer',
  'clientId',
  'authorizeUrl',
  'tokenUrl',
  'logoutUrl',
  'redirectUri',
  'logoutUri',
] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return ['https:', 'http:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

export function isAuthConfig(value: unknown): value is AuthConfig {
  if (!isRecord(value)) return false;
  const scopes = value['scopes'];
  return (
    STRING_FIELDS.every((name) => typeof value[name] === 'string' && value[name] !== '') &&
    STRING_FIELDS.filter((name) => name !== 'clientId').every((name) => isUrl(value[name])) &&
    Array.isArray(scopes) &&
    scopes.every((scope) => typeof scope === 'string')
  );
}

const UNAVAILABLE = "The app's settings could not be loaded. Try again.";

export async function loadConfig(signal?: AbortSignal): Promise<AuthConfig> {
  let response: Response;
  try {
    const init: RequestInit = { cache: 'no-store', headers: { Accept: 'application/json' } };
    if (signal) init.signal = signal;
    response = await fetch(CONFIG_PATH, init);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ConfigError(UNAVAILABLE);
  }
  if (!response.ok) throw new ConfigError(UNAVAILABLE);
  let body: unknown;
  try {
    body = (await response.json()) as unknown;
  } catch {
    body = undefined;
  }
  const auth = isRecord(body) ? body['auth'] : undefined;
  if (!isAuthConfig(auth)) {
    throw new ConfigError(`The app's settings (${CONFIG_PATH}) are not valid.`);
  }
  return auth;
}
