/**
 * Runtime checks for what the API sends back. The server is a separate
 * deployable, so its JSON is `unknown` until one of these accepts it.
 */
import {
  ACTIVITY_TYPES,
  type ActivityEvent,
  type ActivityType,
  type FieldError,
  type Problem,
  type Todo,
} from './types.ts';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isActivityType(value: unknown): value is ActivityType {
  return ACTIVITY_TYPES.some((type) => type === value);
}

export function isTodo(value: unknown): value is Todo {
  return (
    isObject(value) &&
    isString(value['id']) &&
    isString(value['text']) &&
    typeof value['completed'] === 'boolean' &&
    isString(value['createdAt']) &&
    isString(value['updatedAt'])
  );
}

export function isActivityEvent(value: unknown): value is ActivityEvent {
  return (
    isObject(value) &&
    isString(value['eventId']) &&
    isActivityType(value['type']) &&
    isString(value['todoId']) &&
    (value['text'] === null || value['text'] === undefined || isString(value['text'])) &&
    isString(value['occurredAt']) &&
    isString(value['processedAt'])
  );
}

/** Deletes may omit the text; normalise a missing one to null. */
export function toActivityEvent(value: ActivityEvent): ActivityEvent {
  return { ...value, text: value.text ?? null };
}

export function arrayOf<T>(guard: (value: unknown) => value is T) {
  return (value: unknown): value is T[] => Array.isArray(value) && value.every(guard);
}

function toFieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown) =>
    isObject(item) && isString(item['field']) && isString(item['message'])
      ? [{ field: item['field'], message: item['message'] }]
      : [],
  );
}

/** Reads an RFC 9457 body; null when it does not look like one. */
export function toProblem(value: unknown, httpStatus: number): Problem | null {
  if (!isObject(value)) return null;
  const { title, detail, status, type, requestId } = value;
  if (!isString(title) && !isString(detail)) return null;
  return {
    type: isString(type) ? type : 'about:blank',
    title: isString(title) ? title : '',
    status: typeof status === 'number' ? status : httpStatus,
    detail: isString(detail) && detail.trim() !== '' ? detail : null,
    requestId: isString(requestId) ? requestId : null,
    errors: toFieldErrors(value['errors']),
  };
}
