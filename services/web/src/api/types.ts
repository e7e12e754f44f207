/** Wire types of the Todo API (see services/web/README.md for the contract). */

export interface Todo {
  id: string;
  text: string;
  completed: boolean;
  createdAt: string;
  updatedAt: string;
}

export type TodoPatch = Partial<Pick<Todo, 'text' | 'completed'>>;

export const ACTIVITY_TYPES = [
  'todo.created',
  'todo.updated',
  'todo.completed',
  'todo.deleted',
] as const;

export type ActivityType = (typeof ACTIVITY_TYPES)[number];

export interface ActivityEvent {
  eventId: string;
  type: ActivityType;
  todoId: string;
  text: string | null;
  occurredAt: string;
  processedAt: string;
}

/** One page of a list endpoint; nextCursor is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface FieldError {
  field: string;
  message: string;
}

/** RFC 9457 problem details, as far as this app reads them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string | null;
  requestId: string | null;
  errors: FieldError[];
}
