import { useId, useState, type FormEvent, type RefObject } from 'react';
import { errorMessage } from '../api/client.ts';
import type { Todo } from '../api/types.ts';
import { MAX_TODO_LENGTH, validateTodoText } from '../validation.ts';

interface AddTodoFormProps {
  onAdd: (text: string) => Promise<Todo>;
  announce: (message: string) => void;
  /** The "New todo" input; other components return focus to it. */
  inputRef: RefObject<HTMLInputElement | null>;
}

export function AddTodoForm({ onAdd, announce, inputRef }: AddTodoFormProps) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const id = useId();
  const inputId = `${id}-input`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;

  async function handleSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (pending) return;
    const invalid = validateTodoText(text);
    if (invalid) {
      setError(invalid);
      inputRef.current?.focus();
      return;
    }
    setPending(true);
    setError(null);
    try {
      const todo = await onAdd(text.trim());
      setText('');
      announce(`Added "${todo.text}".`);
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setPending(false);
      inputRef.current?.focus();
    }
  }

  return (
    // noValidate: errors are shown in the page (role="alert"), not as browser bubbles.
    <form className="add-form" onSubmit={handleSubmit} noValidate aria-busy={pending}>
      <label htmlFor={inputId}>New todo</label>
      <div className="add-form__row">
        <input
          id={inputId}
          ref={inputRef}
          type="text"
          name="text"
          autoComplete="off"
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            setError(null);
          }}
          aria-required="true"
          aria-invalid={error !== null}
          aria-describedby={error ? `${hintId} ${errorId}` : hintId}
        />
        <button type="submit" className="button button--primary">
          Add
        </button>
      </div>
      <p id={hintId} className="hint">
        {pending ? 'Adding…' : `Up to ${MAX_TODO_LENGTH} characters.`}
      </p>
      {error && (
        <p id={errorId} role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
