/**
 * A fetch stand-in for tests: routes "METHOD /path" to handlers, records every
 * request, and builds the responses the real API sends.
 */
import { vi } from 'vitest';
import type { ActivityEvent, Todo } from '../api/types.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: unknown;
}

export type Handler = (request: RecordedRequest) => Response | Promise<Response>;

/** Keys are "GET /api/todos" or, for ids, "PUT /api/todos/:id". */
export type Routes = Record<string, Handler>;

function matches(pattern: string, method: string, path: string): boolean {
  const [patternMethod, patternPath = ''] = pattern.split(' ');
  if (patternMethod !== method) return false;
  const want = patternPath.split('/');
  const got = path.split('/');
  return want.length === got.length && want.every((part, i) => part === ':id' || part === got[i]);
}

function toRequest(input: RequestInfo | URL, init: RequestInit = {}): RecordedRequest {
  const raw = input instanceof Request ? input.url : input.toString();
  const url = new URL(raw, 'http://localhost');
  // JSON for the API, a form for the token endpoint.
  const body =
    typeof init.body === 'string'
      ? (JSON.parse(init.body) as unknown)
      : init.body instanceof URLSearchParams
        ? Object.fromEntries(init.body)
        : undefined;
  return {
    method: (init.method ?? 'GET').toUpperCase(),
    path: url.pathname,
    query: url.searchParams,
    headers: new Headers(init.headers),
    body,
  };
}

export function mockFetch(routes: Routes) {
  const requests: RecordedRequest[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    if (init?.signal?.aborted) throw new DOMException('The operation was aborted.', 'AbortError');
    const request = toRequest(input, init);
    requests.push(request);
    const route = Object.keys(routes).find((key) => matches(key, request.method, request.path));
    const handler = route === undefined ? undefined : routes[route];
    if (!handler) throw new Error(`unexpected request ${request.method} ${request.path}`);
    return handler(request);
  });
  vi.stubGlobal('fetch', fetchMock);

  return {
    fetch: fetchMock,
    requests,
    /** Requests to one route, e.g. calls('POST /api/todos'). */
    calls(pattern: string): RecordedRequest[] {
      return requests.filter((request) => matches(pattern, request.method, request.path));
    },
  };
}

interface JsonInit {
  status?: number;
  headers?: Record<string, string>;
}

export function json(body: unknown, init: JsonInit = {}) {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { 'Content-Type': 'application/json', ...init.headers },
  });
}

/** A page of a list endpoint; `next` becomes the Link rel="next" cursor. */
export function page(items: unknown[], next?: string, path = '/api/todos?limit=50') {
  const headers: Record<string, string> = next
    ? { Link: `<${path}&cursor=${encodeURIComponent(next)}>; rel="next"` }
    : {};
  return json(items, { headers });
}

export function problem(status: number, detail: string, extra: Record<string, unknown> = {}) {
  return new Response(
    JSON.stringify({
      type: 'about:blank',
      title: status === 422 ? 'Unprocessable Content' : 'Error',
      status,
      detail,
      instance: '/api/todos',
      requestId: 'req-1',
      ...extra,
    }),
    { status, headers: { 'Content-Type': 'application/problem+json' } },
  );
}

export function html(status: number, body = '<html><body>Bad Gateway</body></html>') {
  return new Response(body, { status, headers: { 'Content-Type': 'text/html' } });
}

export function noContent() {
  return new Response(null, { status: 204 });
}

export function networkDown(): never {
  throw new TypeError('Failed to fetch');
}

let sequence = 0;

export function makeTodo(text: string, overrides: Partial<Todo> = {}): Todo {
  sequence += 1;
  const at = new Date(Date.UTC(2026, 10, 21, 10, 0, sequence)).toISOString();
  return {
    id: `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    text,
    completed: false,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

export function makeEvent(
  type: ActivityEvent['type'],
  todo: Pick<Todo, 'id' | 'text'>,
  overrides: Partial<ActivityEvent> = {},
): ActivityEvent {
  sequence += 1;
  const at = new Date(Date.UTC(2026, 10, 21, 11, 0, sequence)).toISOString();
  return {
    eventId: `10000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    type,
    todoId: todo.id,
    text: todo.text,
    occurredAt: at,
    processedAt: at,
    ...overrides,
  };
}
