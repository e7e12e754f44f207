import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState } from 'react';
import { setAuthorization } from '../api/client.ts';
import { type AuthConfig, ConfigError, loadConfig } from '../auth/config.ts';
import {
  AuthError,
  RESUME_KEY,
  beginSignIn,
  completeSignIn,
  isCallback,
  signOutUrl,
  withoutCallback,
} from '../auth/flow.ts';

export const SESSION_ENDED_MESSAGE = 'Your session has ended. Sign in again.';

export type AuthState =
  | { status: 'starting' }
  | { status: 'failed'; message: string }
  | { status: 'signedOut'; config: AuthConfig; message: string | null }
  | { status: 'leaving' }
  | { status: 'signedIn'; config: AuthConfig; email: string };

export interface UseAuth {
  state: AuthState;
  signIn: () => void;
  signOut: () => void;
  /** Load the config again after a failure. */
  retry: () => void;
}

/** Leaves the app for the issuer (a full navigation: its pages are its own). */
export type Navigate = (url: string) => void;

function defaultNavigate(url: string): void {
  window.location.assign(url);
}

function messageOf(error: unknown): string {
  if (error instanceof AuthError || error instanceof ConfigError) return error.message;
  return 'Sign-in failed. Try again.';
}

type Settle = (state: AuthState) => void;

/** The config, then the issuer's answer in the URL if there is one, cleaned from the URL. */
async function start(navigate: Navigate, settle: Settle, signedOut: () => void): Promise<void> {
  let config: AuthConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    settle({ status: 'failed', message: messageOf(error) });
    return;
  }
  const url = new URL(window.location.href);
  if (isCallback(url)) {
    // Also after a failure: a reload must not replay the code.
    window.history.replaceState(window.history.state, '', withoutCallback(url));
    try {
      const session = await completeSignIn(config, url);
      if (session !== null) {
        setAuthorization(session.accessToken, signedOut);
        sessionStorage.setItem(RESUME_KEY, '1');
        settle({ status: 'signedIn', config, email: session.email });
        return;
      }
    } catch (error) {
      sessionStorage.removeItem(RESUME_KEY);
      settle({ status: 'signedOut', config, message: messageOf(error) });
      return;
    }
  }
  if (sessionStorage.getItem(RESUME_KEY) !== null) {
    // A reload while signed in: the issuer's session cookie answers without a prompt.
    settle({ status: 'leaving' });
    navigate(await beginSignIn(config));
    return;
  }
  settle({ status: 'signedOut', config, message: null });
}

/**
 * Who is signed in. A signed-out visitor is sent to the issuer by signIn();
 * the API's 401 signs the user out; signOut() forgets the token and ends the
 * issuer's session.
 */
export function useAuth(navigate: Navigate = defaultNavigate): UseAuth {
  const [state, setState] = useState<AuthState>({ status: 'starting' });
  const [attempt, retry] = useReducer((n: number) => n + 1, 0);
  const navigateRef = useRef(navigate);
  useLayoutEffect(() => {
    navigateRef.current = navigate;
  });
  // StrictMode runs effects twice in development; a code is good once.
  const startedAttempt = useRef<number | null>(null);

  const signedOut = useCallback(() => {
    setAuthorization(null);
    sessionStorage.removeItem(RESUME_KEY);
    setState((current) =>
      current.status === 'signedIn'
        ? { status: 'signedOut', config: current.config, message: SESSION_ENDED_MESSAGE }
        : current,
    );
  }, []);

  useEffect(() => {
    if (startedAttempt.current === attempt) return;
    startedAttempt.current = attempt;
    setState({ status: 'starting' });
    start((url) => navigateRef.current(url), setState, signedOut).catch((error: unknown) =>
      setState({ status: 'failed', message: messageOf(error) }),
    );
  }, [attempt, signedOut]);

  useEffect(() => {
    // Back from the issuer's page may restore this page from the back/forward cache,
    // still "Redirecting…": start again instead.
    const onPageShow = (event: PageTransitionEvent) => {
      if (event.persisted) retry();
    };
    window.addEventListener('pageshow', onPageShow);
    return () => window.removeEventListener('pageshow', onPageShow);
  }, []);

  const config = state.status === 'signedIn' || state.status === 'signedOut' ? state.config : null;

  const signIn = useCallback(() => {
    if (config === null) return;
    setState({ status: 'leaving' });
    beginSignIn(config).then(
      (url) => navigateRef.current(url),
      (error: unknown) => setState({ status: 'signedOut', config, message: messageOf(error) }),
    );
  }, [config]);

  const signOut = useCallback(() => {
    if (config === null) return;
    setAuthorization(null);
    sessionStorage.removeItem(RESUME_KEY);
    setState({ status: 'leaving' });
    navigateRef.current(signOutUrl(config));
  }, [config]);

  return { state, signIn, signOut, retry };
}
