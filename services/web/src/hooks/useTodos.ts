import { useCallback, useEffect, useLayoutEffect, useReducer, useRef } from 'react';
import * as api from '../api/client.ts';
import type { Page, Todo, TodoPatch } from '../api/types.ts';

export type LoadStatus = 'loading' | 'ready' | 'error';

export interface TodosState {
  todos: Todo[];
  nextCursor: string | null;
  status: LoadStatus;
  error: string | null;
  loadingMore: boolean;
  loadMoreError: string | null;
}

type Action =
  | { type: 'load' }
  | { type: 'loaded'; page: Page<Todo> }
  | { type: 'loadFailed'; error: string }
  | { type: 'loadMore' }
  | { type: 'loadedMore'; page: Page<Todo> }
  | { type: 'loadMoreFailed'; error: string }
  | { type: 'added'; todo: Todo }
  | { type: 'updated'; todo: Todo }
  | { type: 'removed'; id: string };

export const initialTodosState: TodosState = {
  todos: [],
  nextCursor: null,
  status: 'loading',
  error: null,
  loadingMore: false,
  loadMoreError: null,
};

function appendNew(existing: Todo[], incoming: Todo[]): Todo[] {
  const seen = new Set(existing.map((todo) => todo.id));
  return [...existing, ...incoming.filter((todo) => !seen.has(todo.id))];
}

export function todosReducer(state: TodosState, action: Action): TodosState {
  switch (action.type) {
    case 'load':
      return { ...state, status: 'loading', error: null };
    case 'loaded':
      return {
        ...state,
        status: 'ready',
        todos: action.page.items,
        nextCursor: action.page.nextCursor,
        loadMoreError: null,
      };
    case 'loadFailed':
      return { ...state, status: 'error', error: action.error };
    case 'loadMore':
      return { ...state, loadingMore: true, loadMoreError: null };
    case 'loadedMore':
      return {
        ...state,
        loadingMore: false,
        todos: appendNew(state.todos, action.page.items),
        nextCursor: action.page.nextCursor,
      };
    case 'loadMoreFailed':
      return { ...state, loadingMore: false, loadMoreError: action.error };
    case 'added':
      return {
        ...state,
        todos: [action.todo, ...state.todos.filter((todo) => todo.id !== action.todo.id)],
      };
    case 'updated':
      return {
        ...state,
        todos: state.todos.map((todo) => (todo.id === action.todo.id ? action.todo : todo)),
      };
    case 'removed':
      return { ...state, todos: state.todos.filter((todo) => todo.id !== action.id) };
  }
}

export interface UseTodos extends TodosState {
  reload: () => void;
  loadMore: () => Promise<void>;
  /** The mutations throw ApiError; callers show its message where it belongs. */
  addTodo: (text: string) => Promise<Todo>;
  updateTodo: (id: string, patch: TodoPatch) => Promise<Todo>;
  deleteTodo: (id: string) => Promise<void>;
}

/**
 * The todo list: first page on mount, "load more" via the Link cursor, and
 * mutations that update the list from the server's answer. `onMutated` runs
 * after every successful change (the activity panel refreshes on it).
 */
export function useTodos(onMutated?: () => void): UseTodos {
  const [state, dispatch] = useReducer(todosReducer, initialTodosState);
  const [generation, reload] = useReducer((n: number) => n + 1, 0);
  const onMutatedRef = useRef(onMutated);
  useLayoutEffect(() => {
    onMutatedRef.current = onMutated;
  });

  useEffect(() => {
    const controller = new AbortController();
    dispatch({ type: 'load' });
    api.listTodos({ signal: controller.signal }).then(
      (page) => dispatch({ type: 'loaded', page }),
      (error: unknown) => {
        if (!api.isAbortError(error)) {
          dispatch({ type: 'loadFailed', error: api.errorMessage(error) });
        }
      },
    );
    return () => controller.abort();
  }, [generation]);

  const { nextCursor, loadingMore } = state;
  const loadMore = useCallback(async () => {
    if (!nextCursor || loadingMore) return;
    dispatch({ type: 'loadMore' });
    try {
      dispatch({ type: 'loadedMore', page: await api.listTodos({ cursor: nextCursor }) });
    } catch (error) {
      dispatch({ type: 'loadMoreFailed', error: api.errorMessage(error) });
    }
  }, [nextCursor, loadingMore]);

  const addTodo = useCallback(async (text: string) => {
    const todo = await api.createTodo(text);
    dispatch({ type: 'added', todo });
    onMutatedRef.current?.();
    return todo;
  }, []);

  const updateTodo = useCallback(async (id: string, patch: TodoPatch) => {
    const todo = await api.updateTodo(id, patch);
    dispatch({ type: 'updated', todo });
    onMutatedRef.current?.();
    return todo;
  }, []);

  const deleteTodo = useCallback(async (id: string) => {
    try {
      await api.deleteTodo(id);
    } catch (error) {
      // 404: someone else deleted it first; the outcome is the same.
      if (!(error instanceof api.ApiError && error.status === 404)) throw error;
    }
    dispatch({ type: 'removed', id });
    onMutatedRef.current?.();
  }, []);

  return { ...state, reload, loadMore, addTodo, updateTodo, deleteTodo };
}
