import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { App } from './App.tsx';
import { listTodos, setAuthorization } from './api/client.ts';
import { PENDING_KEY, RESUME_KEY } from './auth/flow.ts';
import { SESSION_ENDED_MESSAGE } from './hooks/useAuth.ts';
import { CONFIG, ISSUER, tokenResponse } from './test/auth.ts';
import { json, makeTodo, mockFetch, page, problem, type Routes } from './test/http.ts';

const ACTIVITY = '/api/activity?limit=20';

afterEach(() => {
  setAuthorization(null);
  sessionStorage.clear();
  window.history.replaceState(null, '', '/');
});

function setup(routes: Routes) {
  const api = mockFetch({
    'GET /config.json': () => json({ auth: CONFIG }),
    'GET /api/activity': () => page([], undefined, ACTIVITY),
    ...routes,
  });
  const navigate = vi.fn<(url: string) => void>();
  const user = userEvent.setup();
  render(<App activityPollMs={60_000} navigate={navigate} />);
  return { api, navigate, user };
}

/** As the issuer sends the visitor back: a code and the state this tab sent. */
function returningFromTheIssuer(state = 'state-1') {
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ state: 'state-1', verifier: 'v'.repeat(43) }));
  window.history.replaceState(null, '', `/?code=code-1&state=${state}`);
}

function signedInRoutes(routes: Routes = {}): Routes {
  return {
    'POST /oauth2/token': () => tokenResponse('access-1', 'ada@example.com'),
    'GET /api/todos': () => page([makeTodo('Buy milk')]),
    ...routes,
  };
}

describe('signed out', () => {
  it('shows only the sign-in page, and Sign in goes to the issuer with PKCE', async () => {
    const { api, navigate, user } = setup({});

    const signIn = await screen.findByRole('button', { name: 'Sign in' });
    expect(screen.getByRole('button', { name: 'Create account' })).toBeTruthy();

    await user.click(signIn);

    expect(api.requests.map((request) => request.path)).toEqual(['/config.json']);
    await waitFor(() => expect(navigate).toHaveBeenCalledTimes(1));
    const target = new URL(navigate.mock.calls[0]?.[0] ?? '');
    expect(`${target.origin}${target.pathname}`).toBe(`${ISSUER}/oauth2/authorize`);
    expect(target.searchParams.get('code_challenge_method')).toBe('S256');
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? '{}') as { state?: string };
    expect(target.searchParams.get('state')).toBe(pending.state);
  });

  it('says so when the runtime config cannot be loaded, and retries', async () => {
    let down = true;
    const { user } = setup({
      'GET /config.json': () => (down ? json({}, { status: 404 }) : json({ auth: CONFIG })),
    });

    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain("The app's settings could not be loaded.");
    down = false;
    await user.click(within(alert).getByRole('button', { name: 'Retry' }));
    expect(await screen.findByRole('button', { name: 'Sign in' })).toBeTruthy();
  });

  it('goes straight back through the issuer on a reload while signed in', async () => {
    sessionStorage.setItem(RESUME_KEY, '1');
    const { navigate } = setup({});
    await waitFor(() => expect(navigate).toHaveBeenCalledTimes(1));
    expect(navigate.mock.calls[0]?.[0]).toContain(`${ISSUER}/oauth2/authorize?`);
  });
});

describe('returning from the issuer', () => {
  it('exchanges the code, cleans the URL and sends the token with every API call', async () => {
    returningFromTheIssuer();
    const { api } = setup(signedInRoutes());

    expect(await screen.findByText('ada@example.com')).toBeTruthy();
    await screen.findByText('Buy milk');
    expect(window.location.search).toBe('');
    expect(api.calls('POST /oauth2/token')[0]?.body).toMatchObject({
      code: 'code-1',
      code_verifier: 'v'.repeat(43),
    });
    const apiCalls = api.requests.filter((request) => request.path.startsWith('/api/'));
    expect(apiCalls.length).toBeGreaterThan(0);
    for (const call of apiCalls) expect(call.headers.get('Authorization')).toBe('Bearer access-1');
  });

  it('refuses a state this tab did not send', async () => {
    returningFromTheIssuer('forged');
    const { api } = setup(signedInRoutes());

    expect((await screen.findByRole('alert')).textContent).toBe(
      'That sign-in was not started from this page. Sign in again.',
    );
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy();
    expect(api.calls('POST /oauth2/token')).toHaveLength(0);
    expect(window.location.search).toBe('');
  });
});

describe('signed in', () => {
  it('returns to the sign-in page when the API answers 401', async () => {
    returningFromTheIssuer();
    const { user } = setup(
      signedInRoutes({ 'POST /api/todos': () => problem(401, 'The access token has expired.') }),
    );
    await screen.findByText('Buy milk');

    await user.type(screen.getByLabelText('New todo'), 'Too late{Enter}');

    expect((await screen.findByRole('alert')).textContent).toBe(SESSION_ENDED_MESSAGE);
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy();
    expect(screen.queryByText('Buy milk')).toBeNull();
    expect(sessionStorage.getItem(RESUME_KEY)).toBeNull();
  });

  it('signs out at the issuer and forgets the token', async () => {
    returningFromTheIssuer();
    const { api, navigate, user } = setup(signedInRoutes());
    await screen.findByText('Buy milk');

    await user.click(screen.getByRole('button', { name: 'Sign out' }));

    expect(navigate).toHaveBeenCalledWith(
      `${ISSUER}/logout?client_id=web-client&logout_uri=http%3A%2F%2Flocalhost%2F`,
    );
    expect(screen.queryByText('Buy milk')).toBeNull();
    expect(sessionStorage.getItem(RESUME_KEY)).toBeNull();
    await listTodos();
    expect(api.requests.at(-1)?.headers.has('Authorization')).toBe(false);
  });
});
