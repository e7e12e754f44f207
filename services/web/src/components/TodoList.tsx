import { useEffect, useRef, useState, type RefObject } from 'react';
import type { Todo, TodoPatch } from '../api/types.ts';
import { TodoItem } from './TodoItem.tsx';

interface TodoListProps {
  todos: Todo[];
  onUpdate: (id: string, patch: TodoPatch) => Promise<Todo>;
  onDelete: (id: string) => Promise<void>;
  announce: (message: string) => void;
  /** Focus lands here when the last todo is deleted. */
  emptyFocusRef: RefObject<HTMLElement | null>;
}

/** The list named "Todos". After a delete, focus moves to the todo that took its place. */
export function TodoList({ todos, onUpdate, onDelete, announce, emptyFocusRef }: TodoListProps) {
  const listRef = useRef<HTMLUListElement>(null);
  const [focusIndex, setFocusIndex] = useState<number | null>(null);

  useEffect(() => {
    if (focusIndex === null) return;
    setFocusIndex(null);
    const checkboxes = listRef.current?.querySelectorAll<HTMLInputElement>('.todo__check');
    const target = checkboxes?.[Math.min(focusIndex, checkboxes.length - 1)];
    (target ?? emptyFocusRef.current)?.focus();
  }, [focusIndex, emptyFocusRef]);

  async function deleteAndMoveFocus(todo: Todo) {
    const index = todos.findIndex((candidate) => candidate.id === todo.id);
    await onDelete(todo.id);
    setFocusIndex(Math.max(index, 0));
  }

  return (
    <ul className="todo-list" aria-label="Todos" ref={listRef}>
      {todos.map((todo) => (
        <TodoItem
          key={todo.id}
          todo={todo}
          onUpdate={onUpdate}
          onDelete={deleteAndMoveFocus}
          announce={announce}
        />
      ))}
    </ul>
  );
}
