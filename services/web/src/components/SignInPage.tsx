interface SignInPageProps {
  /** Why the visitor is here (a refused sign-in, an ended session), if there is a reason. */
  message: string | null;
  onSignIn: () => void;
}

/**
 * All a signed-out visitor sees. Both buttons go to the issuer's page, which
 * has the sign-in and the sign-up forms: the app never sees a password.
 */
export function SignInPage({ message, onSignIn }: SignInPageProps) {
  return (
    <div className="app">
      <header className="app__header">
        <h1>Todos</h1>
      </header>
      <main className="signin">
        <h2>Sign in to see your todos</h2>
        {message && (
          <p role="alert" className="error error--block">
            {message}
          </p>
        )}
        <div className="signin__actions">
          <button type="button" className="button button--primary" onClick={onSignIn}>
            Sign in
          </button>
          <button type="button" className="button" onClick={onSignIn}>
            Create account
          </button>
        </div>
      </main>
    </div>
  );
}
