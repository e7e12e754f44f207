// @vitest-environment node
import { describe, expect, it } from 'vitest';
import { MAX_TODO_LENGTH, validateTodoText } from './validation.ts';

describe('validateTodoText', () => {
  it('rejects blank text with the server wording', () => {
    expect(validateTodoText('')).toBe('text: must not be blank');
    expect(validateTodoText('  \t\n')).toBe('text: must not be blank');
  });

  it('accepts up to 500 characters after trimming', () => {
    expect(validateTodoText('x'.repeat(MAX_TODO_LENGTH))).toBeNull();
    expect(validateTodoText(` ${'x'.repeat(MAX_TODO_LENGTH)} `)).toBeNull();
    expect(validateTodoText('x'.repeat(MAX_TODO_LENGTH + 1))).toBe(
      'text: must be at most 500 characters',
    );
  });

  it('counts code points, not UTF-16 units', () => {
    // 500 emoji are 1000 UTF-16 units but 500 characters to the API.
    expect(validateTodoText('🙂'.repeat(MAX_TODO_LENGTH))).toBeNull();
  });
});
