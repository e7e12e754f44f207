import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { errorMessage } from '../api/client.ts';
import type { Todo, TodoPatch } from '../api/types.ts';
import { validateTodoText } from '../validation.ts';

interface TodoItemProps {
  todo: Todo;
  onUpdate: (id: string, patch: TodoPatch) => Promise<Todo>;
  onDelete: (todo: Todo) => Promise<void>;
  announce: (message: string) => void;
}

type Pending = 'toggle' | 'save' | 'delete' | null;

/**
 * One todo. Accessible names follow the selector contract in README.md:
 * checkbox `Complete "<text>"`, buttons `Edit "<text>"` and `Delete "<text>"`,
 * and in edit mode an input labelled `Edit "<text>"` (Enter or Save saves,
 * Escape or Cancel cancels; focus returns to the Edit button).
 */
export function TodoItem({ todo, onUpdate, onDelete, announce }: TodoItemProps) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(todo.text);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending>(null);
  // Shown at once on click, so the checkbox follows the pointer; reverted if the API refuses.
  const [optimisticCompleted, setOptimisticCompleted] = useState<boolean | null>(null);
  const completed = optimisticCompleted ?? todo.completed;
  const editButtonRef = useRef<HTMLButtonElement>(null);
  const editInputRef = useRef<HTMLInputElement>(null);
  const returnFocus = useRef(false);
  const id = useId();
  const checkboxId = `${id}-done`;
  const editId = `${id}-edit`;
  const errorId = `${id}-error`;
  const quoted = `"${todo.text}"`;

  useEffect(() => {
    if (editing) {
      editInputRef.current?.focus();
      editInputRef.current?.select();
    } else if (returnFocus.current) {
      returnFocus.current = false;
      editButtonRef.current?.focus();
    }
  }, [editing]);

  function startEditing() {
    setDraft(todo.text);
    setError(null);
    setEditing(true);
  }

  function stopEditing() {
    returnFocus.current = true;
    setError(null);
    setEditing(false);
  }

  async function toggle() {
    if (pending) return;
    setPending('toggle');
    setOptimisticCompleted(!todo.completed);
    setError(null);
    try {
      const updated = await onUpdate(todo.id, { completed: !todo.completed });
      announce(updated.completed ? `Completed ${quoted}.` : `Marked ${quoted} as not done.`);
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setOptimisticCompleted(null);
      setPending(null);
    }
  }

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (pending) return;
    const text = draft.trim();
    if (text === todo.text) {
      stopEditing();
      return;
    }
    const invalid = validateTodoText(draft);
    if (invalid) {
      setError(invalid);
      editInputRef.current?.focus();
      return;
    }
    setPending('save');
    setError(null);
    try {
      const updated = await onUpdate(todo.id, { text });
      announce(`Saved "${updated.text}".`);
      stopEditing();
    } catch (caught) {
      setError(errorMessage(caught));
      editInputRef.current?.focus();
    } finally {
      setPending(null);
    }
  }

  function onEditKeyDown(event: KeyboardEvent<HTMLInputElement>) {
    if (event.key === 'Escape') {
      event.preventDefault();
      stopEditing();
    }
  }

  async function remove() {
    if (pending) return;
    setPending('delete');
    setError(null);
    try {
      await onDelete(todo);
      announce(`Deleted ${quoted}.`);
    } catch (caught) {
      setError(errorMessage(caught));
      setPending(null);
    }
  }

  const className = ['todo', completed ? 'todo--done' : '', pending ? 'todo--pending' : '']
    .filter(Boolean)
    .join(' ');

  return (
    <li className={className} aria-busy={pending !== null}>
      <div className="todo__row">
        <input
          id={checkboxId}
          type="checkbox"
          className="todo__check"
          checked={completed}
          onChange={toggle}
          aria-label={`Complete ${quoted}`}
          aria-describedby={error && !editing ? errorId : undefined}
        />
        {editing ? (
          <form className="todo__edit" onSubmit={save} noValidate>
            <label htmlFor={editId} className="visually-hidden">
              {`Edit ${quoted}`}
            </label>
            <input
              id={editId}
              ref={editInputRef}
              type="text"
              autoComplete="off"
              value={draft}
              onChange={(event) => {
                setDraft(event.target.value);
                setError(null);
              }}
              onKeyDown={onEditKeyDown}
              aria-invalid={error !== null}
              aria-describedby={error ? errorId : undefined}
            />
            <button type="submit" className="button button--primary">
              Save
            </button>
            <button type="button" className="button" onClick={stopEditing}>
              Cancel
            </button>
          </form>
        ) : (
          <>
            {/* A real label: clicking the text toggles the checkbox. */}
            <label htmlFor={checkboxId} className="todo__text">
              {todo.text}
            </label>
            <div className="todo__actions">
              <button
                type="button"
                ref={editButtonRef}
                className="button"
                onClick={startEditing}
                aria-label={`Edit ${quoted}`}
              >
                Edit
              </button>
              <button
                type="button"
                className="button button--danger"
                onClick={remove}
                aria-label={`Delete ${quoted}`}
              >
                Delete
              </button>
            </div>
          </>
        )}
      </div>
      {error && (
        <p id={errorId} role="alert" className="error">
          {error}
        </p>
      )}
    </li>
  );
}
