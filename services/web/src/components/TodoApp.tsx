import { useRef, useState } from 'react';
import { useActivity } from '../hooks/useActivity.ts';
import { useTodos } from '../hooks/useTodos.ts';
import { ActivityPanel } from './ActivityPanel.tsx';
import { AddTodoForm } from './AddTodoForm.tsx';
import { TodoPanel } from './TodoPanel.tsx';

interface TodoAppProps {
  /** The signed-in user's email, from the ID token. */
  email: string;
  onSignOut: () => void;
  /** Activity poll interval; tests shorten it. */
  activityPollMs?: number | undefined;
}

/** The signed-in app: the user's todos and activity. */
export function TodoApp({ email, onSignOut, activityPollMs }: TodoAppProps) {
  const [status, setStatus] = useState('');
  const activity = useActivity(activityPollMs);
  // Every change produces an activity event: fetch it now rather than at the next poll.
  const todos = useTodos(activity.refresh);
  const newTodoRef = useRef<HTMLInputElement>(null);

  return (
    <div className="app">
      <header className="app__header">
        <h1>Todos</h1>
        <div className="app__user">
          <span>
            Signed in as <strong>{email}</strong>
          </span>
          <button type="button" className="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main className="app__main">
        <div className="app__todos">
          <AddTodoForm onAdd={todos.addTodo} announce={setStatus} inputRef={newTodoRef} />
          <TodoPanel todos={todos} announce={setStatus} emptyFocusRef={newTodoRef} />
        </div>
        <ActivityPanel activity={activity} />
      </main>
      {/* Successful changes are announced here; errors use role="alert" where they happen. */}
      <p role="status" className="visually-hidden">
        {status}
      </p>
    </div>
  );
}
