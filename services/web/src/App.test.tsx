import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { UNREACHABLE_MESSAGE } from './api/client.ts';
import type { ActivityEvent, Todo } from './api/types.ts';
import { TodoApp } from './components/TodoApp.tsx';
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
  type Routes,
} from './test/http.ts';

const ACTIVITY_PATH = '/api/activity?limit=20';

/**
 * Renders the signed-in app against `routes` (sign-in itself: App.auth.test.tsx);
 * activity polling is slowed so it stays out of the way.
 */
function setup(routes: Routes) {
  const api = mockFetch({
    'GET /api/activity': () => page([], undefined, ACTIVITY_PATH),
    ...routes,
  });
  const user = userEvent.setup();
  render(<TodoApp email="ada@example.com" onSignOut={() => {}} activityPollMs={60_000} />);
  return { api, user };
}

function todoList(): HTMLElement {
  return screen.getByRole('list', { name: 'Todos' });
}

async function findTodoTexts(expected: string[]): Promise<void> {
  await waitFor(() => {
    const items = within(todoList()).queryAllByRole('listitem');
    expect(items.map((item) => item.querySelector('.todo__text')?.textContent)).toEqual(expected);
  });
}

function newTodoInput(): HTMLInputElement {
  return screen.getByLabelText<HTMLInputElement>('New todo');
}

describe('todo list', () => {
  it('shows a loading state, then the todos newest first with labelled controls', async () => {
    const todos = [makeTodo('Buy milk'), makeTodo('Walk the dog', { completed: true })];
    setup({ 'GET /api/todos': () => page(todos) });

    expect(screen.getByText('Loading todos…')).toBeTruthy();
    await findTodoTexts(['Buy milk', 'Walk the dog']);

    expect(screen.queryByText('Loading todos…')).toBeNull();
    const done = screen.getByRole<HTMLInputElement>('checkbox', {
      name: 'Complete "Walk the dog"',
    });
    expect(done.checked).toBe(true);
    expect(screen.getByRole('button', { name: 'Edit "Buy milk"' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Delete "Buy milk"' })).toBeTruthy();
  });

  it('says so when there is nothing to do', async () => {
    setup({ 'GET /api/todos': () => page([]) });
    expect(await screen.findByText('Nothing to do yet. Add a todo above.')).toBeTruthy();
  });

  it('shows "API unreachable" when the network fails, and recovers on Retry', async () => {
    let apiDown = true;
    const { user } = setup({
      'GET /api/todos': () => (apiDown ? networkDown() : page([makeTodo('Back online')])),
      'GET /api/activity': () => (apiDown ? networkDown() : page([], undefined, ACTIVITY_PATH)),
    });

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain(UNREACHABLE_MESSAGE);
    // The activity panel reports its own failure quietly: one alert, not two.
    expect(screen.getAllByRole('alert')).toHaveLength(1);

    apiDown = false;
    await user.click(within(alert).getByRole('button', { name: 'Retry' }));
    await findTodoTexts(['Back online']);
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('treats a proxy error page (HTML 502) as the API being unreachable', async () => {
    setup({ 'GET /api/todos': () => html(502) });
    expect((await screen.findByRole('alert')).textContent).toContain(UNREACHABLE_MESSAGE);
  });

  it('loads more todos through the Link cursor until the last page', async () => {
    const first = [makeTodo('Newest'), makeTodo('Newer')];
    const second = [makeTodo('Oldest')];
    const { api, user } = setup({
      'GET /api/todos': ({ query }) =>
        query.get('cursor') === 'XYZ' ? page(second) : page(first, 'XYZ'),
    });
    await findTodoTexts(['Newest', 'Newer']);

    await user.click(screen.getByRole('button', { name: 'Load more' }));

    await findTodoTexts(['Newest', 'Newer', 'Oldest']);
    expect(api.calls('GET /api/todos').map((request) => request.query.get('cursor'))).toEqual([
      null,
      'XYZ',
    ]);
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });
});

describe('adding', () => {
  it('adds the trimmed text on top, clears and refocuses the input, and announces it', async () => {
    const created = makeTodo('Write the README');
    const { api, user } = setup({
      'GET /api/todos': () => page([makeTodo('Older')]),
      'POST /api/todos': () =>
        json(created, { status: 201, headers: { Location: `/api/todos/${created.id}` } }),
    });
    await findTodoTexts(['Older']);

    await user.type(newTodoInput(), '  Write the README  {Enter}');

    await findTodoTexts(['Write the README', 'Older']);
    expect(api.calls('POST /api/todos')[0]?.body).toEqual({ text: 'Write the README' });
    expect(newTodoInput().value).toBe('');
    expect(document.activeElement).toBe(newTodoInput());
    expect(screen.getByRole('status').textContent).toBe('Added "Write the README".');
  });

  it('refuses blank text without calling the API and explains why', async () => {
    const { api, user } = setup({ 'GET /api/todos': () => page([]) });
    await screen.findByText('Nothing to do yet. Add a todo above.');

    await user.type(newTodoInput(), '   ');
    await user.click(screen.getByRole('button', { name: 'Add' }));

    const alert = screen.getByRole('alert');
    expect(alert.textContent).toBe('text: must not be blank');
    expect(api.calls('POST /api/todos')).toHaveLength(0);
    const input = newTodoInput();
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toContain(alert.id);
    expect(document.activeElement).toBe(input);
  });

  it("shows the server's problem+json detail, not a message of its own", async () => {
    const { user } = setup({
      'GET /api/todos': () => page([]),
      'POST /api/todos': () => problem(422, 'text: must not contain control characters'),
    });
    await screen.findByText('Nothing to do yet. Add a todo above.');

    await user.type(newTodoInput(), 'Looks fine to me');
    await user.click(screen.getByRole('button', { name: 'Add' }));

    expect((await screen.findByRole('alert')).textContent).toBe(
      'text: must not contain control characters',
    );
    expect(newTodoInput().value).toBe('Looks fine to me');
  });

  it('shows "API unreachable" when adding hits a gateway error', async () => {
    const { user } = setup({
      'GET /api/todos': () => page([]),
      'POST /api/todos': () => html(504, 'Gateway Timeout'),
    });
    await screen.findByText('Nothing to do yet. Add a todo above.');

    await user.type(newTodoInput(), 'Anything{Enter}');

    expect((await screen.findByRole('alert')).textContent).toBe(UNREACHABLE_MESSAGE);
  });
});

describe('editing', () => {
  function editRoutes(todo: Todo, put: Routes[string]): Routes {
    return { 'GET /api/todos': () => page([todo]), 'PUT /api/todos/:id': put };
  }

  it('turns the text into a labelled input and saves with Enter', async () => {
    const todo = makeTodo('Buy milk');
    const { api, user } = setup(
      editRoutes(todo, ({ body }) => json({ ...todo, ...(body as Partial<Todo>) })),
    );
    await user.click(await screen.findByRole('button', { name: 'Edit "Buy milk"' }));

    const input = screen.getByLabelText<HTMLInputElement>('Edit "Buy milk"');
    expect(input.tagName).toBe('INPUT');
    expect(input.value).toBe('Buy milk');
    expect(document.activeElement).toBe(input);

    await user.clear(input);
    await user.type(input, 'Buy oat milk{Enter}');

    const editButton = await screen.findByRole('button', { name: 'Edit "Buy oat milk"' });
    await findTodoTexts(['Buy oat milk']);
    expect(api.calls('PUT /api/todos/:id')[0]?.body).toEqual({ text: 'Buy oat milk' });
    expect(api.calls('PUT /api/todos/:id')[0]?.path).toBe(`/api/todos/${todo.id}`);
    expect(document.activeElement).toBe(editButton);
  });

  it('cancels with Escape: no request, old text, focus back on Edit', async () => {
    const todo = makeTodo('Buy milk');
    const { api, user } = setup(editRoutes(todo, () => json(todo)));
    await user.click(await screen.findByRole('button', { name: 'Edit "Buy milk"' }));

    await user.type(screen.getByLabelText('Edit "Buy milk"'), ' and bread{Escape}');

    expect(screen.queryByLabelText('Edit "Buy milk"', { selector: 'input' })).toBeNull();
    await findTodoTexts(['Buy milk']);
    expect(api.calls('PUT /api/todos/:id')).toHaveLength(0);
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Edit "Buy milk"' }));
  });

  it('keeps editing and shows the server detail when Save is refused', async () => {
    const todo = makeTodo('Buy milk');
    const { user } = setup(editRoutes(todo, () => problem(422, 'text: must not be blank')));
    await user.click(await screen.findByRole('button', { name: 'Edit "Buy milk"' }));
    const input = screen.getByLabelText<HTMLInputElement>('Edit "Buy milk"');

    await user.clear(input);
    await user.type(input, 'x');
    await user.click(screen.getByRole('button', { name: 'Save' }));

    expect((await screen.findByRole('alert')).textContent).toBe('text: must not be blank');
    expect(screen.getByLabelText<HTMLInputElement>('Edit "Buy milk"').value).toBe('x');
    expect(document.activeElement).toBe(input);
  });
});

describe('completing and deleting', () => {
  it('completes a todo and refreshes the activity panel right away', async () => {
    const todo = makeTodo('Buy milk');
    let events: ActivityEvent[] = [];
    const { api, user } = setup({
      'GET /api/todos': () => page([todo]),
      'GET /api/activity': () => page(events, undefined, ACTIVITY_PATH),
      'PUT /api/todos/:id': ({ body }) => {
        events = [makeEvent('todo.completed', todo)];
        return json({ ...todo, ...(body as Partial<Todo>) });
      },
    });
    const checkbox = await screen.findByRole<HTMLInputElement>('checkbox', {
      name: 'Complete "Buy milk"',
    });
    await screen.findByText('No activity yet.');

    await user.click(checkbox);

    await waitFor(() => expect(checkbox.checked).toBe(true));
    expect(api.calls('PUT /api/todos/:id')[0]?.body).toEqual({ completed: true });
    const activity = screen.getByRole('region', { name: 'Activity' });
    const entry = await within(activity).findByText('todo.completed');
    expect(entry.closest('li')?.textContent).toContain('Buy milk');
  });

  it('ticks the checkbox at once and unticks it when the API refuses', async () => {
    const todo = makeTodo('Buy milk');
    let answer: ((response: Response) => void) | undefined;
    const { user } = setup({
      'GET /api/todos': () => page([todo]),
      'PUT /api/todos/:id': () =>
        new Promise<Response>((resolve) => {
          answer = resolve;
        }),
    });
    const checkbox = await screen.findByRole<HTMLInputElement>('checkbox', {
      name: 'Complete "Buy milk"',
    });

    await user.click(checkbox);

    // Checked while the request is still in flight (Playwright's check() relies on it).
    expect(checkbox.checked).toBe(true);
    await waitFor(() => expect(answer).toBeDefined());
    answer?.(problem(409, 'The todo was changed elsewhere; reload and try again.'));
    expect((await screen.findByRole('alert')).textContent).toBe(
      'The todo was changed elsewhere; reload and try again.',
    );
    expect(checkbox.checked).toBe(false);
  });

  it('deletes a todo and moves focus to the one that took its place', async () => {
    const todos = [makeTodo('First'), makeTodo('Second'), makeTodo('Third')];
    const { api, user } = setup({
      'GET /api/todos': () => page(todos),
      'DELETE /api/todos/:id': () => noContent(),
    });
    await user.click(await screen.findByRole('button', { name: 'Delete "Second"' }));

    await findTodoTexts(['First', 'Third']);
    expect(api.calls('DELETE /api/todos/:id')[0]?.path).toBe(`/api/todos/${todos[1]?.id}`);
    await waitFor(() =>
      expect(document.activeElement).toBe(
        screen.getByRole('checkbox', { name: 'Complete "Third"' }),
      ),
    );
    expect(screen.getByRole('status').textContent).toBe('Deleted "Second".');
  });

  it('returns focus to the New todo input when the last todo goes', async () => {
    const { user } = setup({
      'GET /api/todos': () => page([makeTodo('Only')]),
      'DELETE /api/todos/:id': () => problem(404, 'todo not found'),
    });
    await user.click(await screen.findByRole('button', { name: 'Delete "Only"' }));

    await findTodoTexts([]);
    await waitFor(() => expect(document.activeElement).toBe(newTodoInput()));
  });

  it('keeps the todo and shows the error when a delete fails', async () => {
    const { user } = setup({
      'GET /api/todos': () => page([makeTodo('Sticky')]),
      'DELETE /api/todos/:id': () => problem(500, 'The server could not delete the todo.'),
    });
    await user.click(await screen.findByRole('button', { name: 'Delete "Sticky"' }));

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('The server could not delete the todo.');
    expect(alert.closest('li')?.textContent).toContain('Sticky');
  });
});

describe('activity panel', () => {
  it('lists events by type and text and loads older pages through the Link cursor', async () => {
    const milk = makeTodo('Buy milk');
    const newest = makeEvent('todo.completed', milk);
    const older = makeEvent('todo.deleted', milk, { text: null });
    const { api, user } = setup({
      'GET /api/todos': () => page([]),
      'GET /api/activity': ({ query }) =>
        query.get('cursor') === 'older' ? page([older]) : page([newest], 'older', ACTIVITY_PATH),
    });
    const activity = screen.getByRole('region', { name: 'Activity' });

    const completed = await within(activity).findByText('todo.completed');
    expect(completed.closest('li')?.textContent).toContain('Buy milk');

    await user.click(within(activity).getByRole('button', { name: 'Load older activity' }));

    const deleted = await within(activity).findByText('todo.deleted');
    expect(deleted.closest('li')?.textContent).toContain('(text not recorded)');
    expect(api.calls('GET /api/activity').at(-1)?.query.get('cursor')).toBe('older');
    expect(within(activity).queryByRole('button', { name: 'Load older activity' })).toBeNull();
  });
});
