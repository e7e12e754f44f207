// @vitest-environment node
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  html,
  json,
  makeEvent,
  makeTodo,
  mockFetch,
  networkDown,
  noContent,
  page,
  problem,
} from '../test/http.ts';
import {
  ApiError,
  UNREACHABLE_MESSAGE,
  createTodo,
  deleteTodo,
  listActivity,
  listTodos,
  setAuthorization,
  updateTodo,
} from './client.ts';

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (caught: unknown) => caught,
  );
  if (!(error instanceof ApiError)) throw error;
  return error;
}

describe('listTodos', () => {
  it('GETs the first page and reads the next cursor from the Link header', async () => {
    const todo = makeTodo('Buy milk');
    const api = mockFetch({ 'GET /api/todos': () => page([todo], 'XYZ') });

    await expect(listTodos()).resolves.toEqual({ items: [todo], nextCursor: 'XYZ' });

    const [request] = api.requests;
    expect(request?.query.get('limit')).toBe('50');
    expect(request?.query.has('cursor')).toBe(false);
    expect(request?.headers.get('Accept')).toBe('application/json');
  });

  it('sends the cursor and reports the last page', async () => {
    const api = mockFetch({ 'GET /api/todos': () => page([]) });

    await expect(listTodos({ cursor: 'a/b+c' })).resolves.toEqual({ items: [], nextCursor: null });
    expect(api.requests[0]?.query.get('cursor')).toBe('a/b+c');
  });

  it('rejects a body that is not a list of todos', async () => {
    mockFetch({ 'GET /api/todos': () => json([{ id: 1, text: 'no' }]) });

    const error = await rejection(listTodos());
    expect(error.kind).toBe('unexpected');
  });
});

describe('mutations', () => {
  it('POSTs JSON and returns the created todo', async () => {
    const todo = makeTodo('Write tests');
    const api = mockFetch({ 'POST /api/todos': () => json(todo, { status: 201 }) });

    await expect(createTodo('Write tests')).resolves.toEqual(todo);
    expect(api.requests[0]?.body).toEqual({ text: 'Write tests' });
    expect(api.requests[0]?.headers.get('Content-Type')).toBe('application/json');
  });

  it('PUTs a patch to the encoded id', async () => {
    const todo = makeTodo('Done', { completed: true });
    const api = mockFetch({ 'PUT /api/todos/:id': () => json(todo) });

    await updateTodo('a b', { completed: true });
    expect(api.requests[0]?.path).toBe('/api/todos/a%20b');
    expect(api.requests[0]?.body).toEqual({ completed: true });
  });

  it('DELETE resolves on 204', async () => {
    mockFetch({ 'DELETE /api/todos/:id': () => noContent() });
    await expect(deleteTodo('1')).resolves.toBeUndefined();
  });
});

describe('errors', () => {
  it('uses the problem+json detail as the message', async () => {
    mockFetch({
      'POST /api/todos': () =>
        problem(422, 'text: must not be blank', {
          errors: [{ field: 'text', message: 'must not be blank' }],
        }),
    });

    const error = await rejection(createTodo(' '));
    expect(error).toMatchObject({
      kind: 'problem',
      status: 422,
      message: 'text: must not be blank',
    });
    expect(error.fieldMessage('text')).toBe('must not be blank');
    expect(error.problem?.requestId).toBe('req-1');
  });

  it('falls back to the problem title when there is no detail', async () => {
    mockFetch({
      'DELETE /api/todos/:id': () =>
        new Response(JSON.stringify({ title: 'Not Found', status: 404 }), {
          status: 404,
          headers: { 'Content-Type': 'application/problem+json; charset=utf-8' },
        }),
    });

    const error = await rejection(deleteTodo('gone'));
    expect(error).toMatchObject({ kind: 'problem', status: 404, message: 'Not Found' });
  });

  it('reports a gateway HTML page as the API being unreachable', async () => {
    mockFetch({ 'GET /api/todos': () => html(502) });

    const error = await rejection(listTodos());
    expect(error).toMatchObject({ kind: 'unreachable', status: 502, message: UNREACHABLE_MESSAGE });
  });

  it('reports a network failure as the API being unreachable', async () => {
    mockFetch({ 'GET /api/todos': networkDown });

    const error = await rejection(listTodos());
    expect(error).toMatchObject({
      kind: 'unreachable',
      status: null,
      message: UNREACHABLE_MESSAGE,
    });
  });

  it('reports other non-problem errors as unexpected, with the status', async () => {
    mockFetch({ 'GET /api/todos': () => new Response('boom', { status: 500 }) });

    const error = await rejection(listTodos());
    expect(error.kind).toBe('unexpected');
    expect(error.message).toBe('Unexpected error from the API (HTTP 500). Try again.');
  });

  it('lets an abort through untouched', async () => {
    mockFetch({ 'GET /api/todos': () => page([]) });
    const controller = new AbortController();
    controller.abort();

    await expect(listTodos({ signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

describe('listActivity', () => {
  it('GETs 20 events and normalises a missing text to null', async () => {
    const todo = makeTodo('Gone');
    const { text: _omitted, ...deleted } = makeEvent('todo.deleted', todo);
    const api = mockFetch({
      'GET /api/activity': () => page([deleted], 'next-1', '/api/activity?limit=20'),
    });

    await expect(listActivity()).resolves.toEqual({
      items: [{ ...deleted, text: null }],
      nextCursor: 'next-1',
    });
    expect(api.requests[0]?.query.get('limit')).toBe('20');
  });

  it('rejects unknown event types', async () => {
    const event = { ...makeEvent('todo.created', makeTodo('x')), type: 'todo.renamed' };
    mockFetch({ 'GET /api/activity': () => json([event]) });

    expect((await rejection(listActivity())).kind).toBe('unexpected');
  });
});

describe('authorization', () => {
  afterEach(() => setAuthorization(null));

  it('sends the access token as a Bearer token on every request', async () => {
    const todo = makeTodo('Mine');
    const api = mockFetch({
      'GET /api/todos': () => page([todo]),
      'POST /api/todos': () => json(todo, { status: 201 }),
      'DELETE /api/todos/:id': () => noContent(),
    });
    setAuthorization('access-1');

    await listTodos();
    await createTodo('Mine');
    await deleteTodo(todo.id);

    expect(api.requests.map((request) => request.headers.get('Authorization'))).toEqual([
      'Bearer access-1',
      'Bearer access-1',
      'Bearer access-1',
    ]);
  });

  it('sends no Authorization header when signed out', async () => {
    const api = mockFetch({ 'GET /api/todos': () => page([]) });
    await listTodos();
    expect(api.requests[0]?.headers.has('Authorization')).toBe(false);
  });

  it('reports a 401 (the caller signs the user out) and still rejects', async () => {
    const unauthorized = vi.fn();
    mockFetch({ 'GET /api/todos': () => problem(401, 'The access token has expired.') });
    setAuthorization('expired', unauthorized);

    const error = await rejection(listTodos());

    expect(error.status).toBe(401);
    expect(unauthorized).toHaveBeenCalledTimes(1);
  });

  it('does not sign out on other errors', async () => {
    const unauthorized = vi.fn();
    mockFetch({ 'GET /api/todos': () => problem(404, 'todo not found') });
    setAuthorization('access-1', unauthorized);

    await rejection(listTodos());
    expect(unauthorized).not.toHaveBeenCalled();
  });
});
