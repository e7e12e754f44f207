import { act, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vi } from 'vitest';
import { TodoApp } from '../components/TodoApp.tsx';
import type { ActivityEvent } from '../api/types.ts';
import { makeEvent, makeTodo, mockFetch, networkDown, page } from '../test/http.ts';
import { ACTIVITY_POLL_MS, mergeEvents } from './useActivity.ts';

const ACTIVITY_PATH = '/api/activity?limit=20';
const milk = makeTodo('Buy milk');

/** Advance fake time and let React render what the resolved fetches changed. */
async function elapse(ms: number): Promise<void> {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

function setVisibility(state: DocumentVisibilityState): void {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

function activityRegion(): HTMLElement {
  return screen.getByRole('region', { name: 'Activity' });
}

function renderWithActivity(respond: () => Response) {
  const api = mockFetch({ 'GET /api/todos': () => page([]), 'GET /api/activity': respond });
  render(<TodoApp email="ada@example.com" onSignOut={() => {}} />);
  return () => api.calls('GET /api/activity').length;
}

describe('activity polling', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
    // Drop the own property so document falls back to jsdom's getter.
    Reflect.deleteProperty(document, 'visibilityState');
  });

  it('shows the newest events with their type and text, and polls for new ones', async () => {
    let events: ActivityEvent[] = [makeEvent('todo.created', milk)];
    const polls = renderWithActivity(() => page(events, undefined, ACTIVITY_PATH));
    await elapse(0);

    const created = within(activityRegion()).getByText('todo.created');
    expect(created.closest('li')?.textContent).toContain('Buy milk');
    expect(polls()).toBe(1);

    events = [makeEvent('todo.completed', milk), ...events];
    await elapse(ACTIVITY_POLL_MS - 1);
    expect(polls()).toBe(1);
    expect(within(activityRegion()).queryByText('todo.completed')).toBeNull();

    await elapse(1);
    expect(polls()).toBe(2);
    const items = within(activityRegion()).getAllByRole('listitem');
    expect(items.map((item) => item.querySelector('.badge')?.textContent)).toEqual([
      'todo.completed',
      'todo.created',
    ]);
  });

  it('stops polling while the page is hidden and catches up when it is shown', async () => {
    const polls = renderWithActivity(() => page([], undefined, ACTIVITY_PATH));
    await elapse(0);
    expect(polls()).toBe(1);

    setVisibility('hidden');
    await elapse(ACTIVITY_POLL_MS * 5);
    expect(polls()).toBe(1);

    setVisibility('visible');
    await elapse(0);
    expect(polls()).toBe(2);
    await elapse(ACTIVITY_POLL_MS);
    expect(polls()).toBe(3);
  });

  it('reports failures quietly, backs off, and recovers', async () => {
    let down = true;
    const polls = renderWithActivity(() =>
      down ? networkDown() : page([makeEvent('todo.created', milk)], undefined, ACTIVITY_PATH),
    );
    await elapse(0);

    expect(within(activityRegion()).getByText(/Could not load activity\./).textContent).toContain(
      'unreachable',
    );
    expect(within(activityRegion()).queryByRole('alert')).toBeNull();

    // One failure doubles the delay.
    await elapse(ACTIVITY_POLL_MS);
    expect(polls()).toBe(1);
    down = false;
    await elapse(ACTIVITY_POLL_MS);
    expect(polls()).toBe(2);
    expect(within(activityRegion()).getByText('todo.created')).toBeTruthy();
    expect(within(activityRegion()).queryByText(/Could not load activity/)).toBeNull();
  });
});

describe('mergeEvents', () => {
  it('keeps one copy of each event, newest first', () => {
    const older = makeEvent('todo.created', milk);
    const newer = makeEvent('todo.completed', milk);
    expect(mergeEvents([older], [newer, older])).toEqual([newer, older]);
  });
});
