/**
 * The one module that talks to the API: fetch, JSON decoding, problem+json
 * errors and Link pagination. Everything goes to the relative path /api,
 * which CloudFront routes to the API in AWS and the Vite dev server proxies
 * locally, with the signed-in user's access token.
 */
import { arrayOf, isActivityEvent, isTodo, toActivityEvent, toProblem } from './decode.ts';
import { nextCursor } from './link.ts';
import type { ActivityEvent, Page, Problem, Todo, TodoPatch } from './types.ts';

export const API_BASE = '/api';
export const TODO_PAGE_SIZE = 50;
export const ACTIVITY_PAGE_SIZE = 20;

export const UNREACHABLE_MESSAGE =
  'The API is unreachable. Check your connection and try again.';

/**
 * - problem: the API answered with problem+json; its detail is shown as-is.
 * - unreachable: no answer, or a gateway error page instead of the API.
 * - unexpected: the API answered with something this client cannot read.
 */
export type ApiErrorKind = 'problem' | 'unreachable' | 'unexpected';

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly problem: Problem | null = null,
  ) {
    super(message);
  }

  /** The server's message for one field, e.g. 'must not be blank' for 'text'. */
  fieldMessage(field: string): string | null {
    return this.problem?.errors.find((error) => error.field === field)?.message ?? null;
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** A sentence for the user, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Unexpected error. Try again.';
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface ListOptions extends RequestOptions {
  cursor?: string | null;
  limit?: number;
}

const GATEWAY_STATUSES = new Set([502, 503, 504]);

// In memory only (docs/auth.md): nothing for a script to find in storage.
let accessToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

/**
 * The access token every request sends, and what to do when the API answers
 * 401 (the token expired or was refused): the caller signs the user out.
 */
export function setAuthorization(token: string | null, unauthorized?: () => void): void {
  accessToken = token;
  onUnauthorized = unauthorized ?? null;
}

function isJsonMediaType(contentType: string | null): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

async function readJsonBody(response: Response): Promise<unknown> {
  if (!isJsonMediaType(response.headers.get('Content-Type'))) return undefined;
  try {
    return (await response.json()) as unknown;
  } catch {
    return undefined;
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  const problem = toProblem(await readJsonBody(response), response.status);
  if (problem) {
    const fallback = problem.title || `Request failed (HTTP ${response.status}).`;
    return new ApiError('problem', problem.detail ?? fallback, response.status, problem);
  }
  if (GATEWAY_STATUSES.has(response.status)) {
    return new ApiError('unreachable', UNREACHABLE_MESSAGE, response.status);
  }
  return new ApiError(
    'unexpected',
    `Unexpected error from the API (HTTP ${response.status}). Try again.`,
    response.status,
  );
}

async function send(
  method: string,
  path: string,
  options: RequestOptions & { body?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (accessToken !== null) headers['Authorization'] = `Bearer ${accessToken}`;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  if (options.signal) init.signal = options.signal;

  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, init);
  } catch (error) {
    if (isAbortError(error)) throw error;
    throw new ApiError('unreachable', UNREACHABLE_MESSAGE);
  }
  if (response.status === 401) onUnauthorized?.();
  if (!response.ok) throw await toApiError(response);
  return response;
}

async function decode<T>(response: Response, guard: (value: unknown) => value is T): Promise<T> {
  const body = await readJsonBody(response);
  if (!guard(body)) {
    const message = 'Unexpected response from the API. Try again.';
    throw new ApiError('unexpected', message, response.status);
  }
  return body;
}

function listQuery({ cursor, limit }: ListOptions, defaultLimit: number): string {
  const params = new URLSearchParams({ limit: String(limit ?? defaultLimit) });
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

const isTodoList = arrayOf(isTodo);
const isActivityList = arrayOf(isActivityEvent);

function todoPath(id: string): string {
  return `/todos/${encodeURIComponent(id)}`;
}

export async function listTodos(options: ListOptions = {}): Promise<Page<Todo>> {
  const response = await send('GET', `/todos?${listQuery(options, TODO_PAGE_SIZE)}`, options);
  const items = await decode(response, isTodoList);
  return { items, nextCursor: nextCursor(response.headers.get('Link')) };
}

export async function createTodo(text: string, options: RequestOptions = {}): Promise<Todo> {
  const response = await send('POST', '/todos', { ...options, body: { text } });
  return decode(response, isTodo);
}

export async function getTodo(id: string, options: RequestOptions = {}): Promise<Todo> {
  return decode(await send('GET', todoPath(id), options), isTodo);
}

export async function updateTodo(
  id: string,
  patch: TodoPatch,
  options: RequestOptions = {},
): Promise<Todo> {
  const response = await send('PUT', todoPath(id), { ...options, body: patch });
  return decode(response, isTodo);
}

export async function deleteTodo(id: string, options: RequestOptions = {}): Promise<void> {
  await send('DELETE', todoPath(id), options);
}

export async function listActivity(options: ListOptions = {}): Promise<Page<ActivityEvent>> {
  const query = listQuery(options, ACTIVITY_PAGE_SIZE);
  const response = await send('GET', `/activity?${query}`, options);
  const items = await decode(response, isActivityList);
  return {
    items: items.map(toActivityEvent),
    nextCursor: nextCursor(response.headers.get('Link')),
  };
}
