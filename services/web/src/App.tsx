import { useRef, useState } from 'react';
import { ActivityPanel } from './components/ActivityPanel.tsx';
import { AddTodoForm } from './components/AddTodoForm.tsx';
import { TodoPanel } from './components/TodoPanel.tsx';
import { useActivity } from './hooks/useActivity.ts';
import { useTodos } from './hooks/useTodos.ts';

interface AppProps {
  /** Activity poll interval; tests shorten it. */
  activityPollMs?: number;
}

export function App({ activityPollMs }: AppProps) {
  const [status, setStatus] = useState('');
  const activity = useActivity(activityPollMs);
  // Every change produces an activity event: fetch it now rather than at the next poll.
  const todos = useTodos(activity.refresh);
  const newTodoRef = useRef<HTMLInputElement>(null);

  return (
    <div className="app">
      <header className="app__header">
        <h1>Todos</h1>
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
