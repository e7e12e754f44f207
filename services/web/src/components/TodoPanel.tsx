import type { RefObject } from 'react';
import type { UseTodos } from '../hooks/useTodos.ts';
import { TodoList } from './TodoList.tsx';

interface TodoPanelProps {
  todos: UseTodos;
  announce: (message: string) => void;
  emptyFocusRef: RefObject<HTMLElement | null>;
}

/** The list with its loading, error, empty and "load more" states. */
export function TodoPanel({ todos, announce, emptyFocusRef }: TodoPanelProps) {
  const { status, error, nextCursor, loadingMore, loadMoreError } = todos;

  return (
    <div className="todo-panel" aria-busy={status === 'loading'}>
      {status === 'loading' && <p className="muted">Loading todos…</p>}
      {status === 'error' && (
        <div role="alert" className="error error--block">
          <p>Could not load todos. {error}</p>
          <button type="button" className="button" onClick={todos.reload}>
            Retry
          </button>
        </div>
      )}
      {status === 'ready' && todos.todos.length === 0 && (
        <p className="muted">Nothing to do yet. Add a todo above.</p>
      )}
      <TodoList
        todos={todos.todos}
        onUpdate={todos.updateTodo}
        onDelete={todos.deleteTodo}
        announce={announce}
        emptyFocusRef={emptyFocusRef}
      />
      {loadMoreError && (
        <p role="alert" className="error">
          Could not load more todos. {loadMoreError}
        </p>
      )}
      {status === 'ready' && nextCursor && (
        <button
          type="button"
          className="button load-more"
          onClick={todos.loadMore}
          aria-busy={loadingMore}
        >
          {loadingMore ? 'Loading…' : 'Load more'}
        </button>
      )}
    </div>
  );
}
