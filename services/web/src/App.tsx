import { SignInPage } from './components/SignInPage.tsx';
import { TodoApp } from './components/TodoApp.tsx';
import { type Navigate, useAuth } from './hooks/useAuth.ts';

interface AppProps {
  /** Activity poll interval; tests shorten it. */
  activityPollMs?: number;
  /** How the app leaves for the issuer; tests record it instead. */
  navigate?: Navigate;
}

export function App({ activityPollMs, navigate }: AppProps) {
  const { state, signIn, signOut, retry } = useAuth(navigate);

  switch (state.status) {
    case 'starting':
    case 'leaving':
      return (
        <div className="app">
          <p role="status">{state.status === 'starting' ? 'Loading…' : 'Redirecting…'}</p>
        </div>
      );
    case 'failed':
      return (
        <div className="app">
          <div role="alert" className="error error--block">
            <p>{state.message}</p>
            <button type="button" className="button" onClick={retry}>
              Retry
            </button>
          </div>
        </div>
      );
    case 'signedOut':
      return <SignInPage message={state.message} onSignIn={signIn} />;
    case 'signedIn':
      return <TodoApp email={state.email} onSignOut={signOut} activityPollMs={activityPollMs} />;
  }
}
