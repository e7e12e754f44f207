/**
 * Client-side checks that mirror the API's rules for todo text, worded like
 * the API's problem+json `detail` so the user sees one vocabulary. The server
 * stays the source of truth: its message replaces these whenever it answers.
 */
export const MAX_TODO_LENGTH = 500;

/** Length in code points, as the API counts it (not UTF-16 units). */
export function textLength(text: string): number {
  return Array.from(text).length;
}

export function validateTodoText(text: string): string | null {
  if (text.trim() === '') return 'text: must not be blank';
  if (textLength(text.trim()) > MAX_TODO_LENGTH) {
    return `text: must be at most ${MAX_TODO_LENGTH} characters`;
  }
  return null;
}
