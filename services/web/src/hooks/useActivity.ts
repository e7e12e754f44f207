import { useCallback, useEffect, useReducer } from 'react';
import * as api from '../api/client.ts';
import type { ActivityEvent, Page } from '../api/types.ts';
import type { LoadStatus } from './useTodos.ts';

/** The worker writes activity asynchronously, so the panel polls for it. */
export const ACTIVITY_POLL_MS = 3000;
/** Failed polls back off exponentially up to this delay. */
export const MAX_POLL_BACKOFF_MS = 30_000;

export interface ActivityState {
  events: ActivityEvent[];
  /** Cursor for the page after the oldest loaded event. */
  olderCursor: string | null;
  /** Whether older pages were appended; polls then merge instead of replace. */
  loadedOlder: boolean;
  status: LoadStatus;
  error: string | null;
  loadingOlder: boolean;
  loadOlderError: string | null;
}

type Action =
  | { type: 'refreshed'; page: Page<ActivityEvent> }
  | { type: 'refreshFailed'; error: string }
  | { type: 'loadOlder' }
  | { type: 'loadedOlder'; page: Page<ActivityEvent> }
  | { type: 'loadOlderFailed'; error: string };

export const initialActivityState: ActivityState = {
  events: [],
  olderCursor: null,
  loadedOlder: false,
  status: 'loading',
  error: null,
  loadingOlder: false,
  loadOlderError: null,
};

/** Union by eventId, newest first (ISO-8601 UTC timestamps sort as strings). */
export function mergeEvents(...lists: ActivityEvent[][]): ActivityEvent[] {
  const byId = new Map<string, ActivityEvent>();
  for (const event of lists.flat()) {
    if (!byId.has(event.eventId)) byId.set(event.eventId, event);
  }
  return [...byId.values()].sort((a, b) =>
    a.occurredAt === b.occurredAt ? 0 : a.occurredAt < b.occurredAt ? 1 : -1,
  );
}

export function activityReducer(state: ActivityState, action: Action): ActivityState {
  switch (action.type) {
    case 'refreshed':
      return {
        ...state,
        status: 'ready',
        error: null,
        events: state.loadedOlder
          ? mergeEvents(action.page.items, state.events)
          : action.page.items,
        olderCursor: state.loadedOlder ? state.olderCursor : action.page.nextCursor,
      };
    case 'refreshFailed':
      // Keep what is on screen; the error says it may be stale.
      return {
        ...state,
        status: state.status === 'loading' ? 'error' : state.status,
        error: action.error,
      };
    case 'loadOlder':
      return { ...state, loadingOlder: true, loadOlderError: null };
    case 'loadedOlder':
      return {
        ...state,
        loadingOlder: false,
        loadedOlder: true,
        events: mergeEvents(state.events, action.page.items),
        olderCursor: action.page.nextCursor,
      };
    case 'loadOlderFailed':
      return { ...state, loadingOlder: false, loadOlderError: action.error };
  }
}

export interface UseActivity extends ActivityState {
  /** Fetch the newest page now (after a mutation) and restart the poll timer. */
  refresh: () => void;
  loadOlder: () => Promise<void>;
}

function isPageHidden(): boolean {
  return document.visibilityState === 'hidden';
}

/**
 * The newest page of activity, polled every `pollMs` while the page is
 * visible: polls stop when the tab is hidden and resume, with an immediate
 * fetch, when it is shown again. One request at a time; a newer one aborts
 * an older one.
 */
export function useActivity(pollMs: number = ACTIVITY_POLL_MS): UseActivity {
  const [state, dispatch] = useReducer(activityReducer, initialActivityState);
  const [generation, refresh] = useReducer((n: number) => n + 1, 0);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight: AbortController | undefined;
    let failures = 0;

    const stop = () => {
      clearTimeout(timer);
      inFlight?.abort();
    };

    const schedule = () => {
      clearTimeout(timer);
      timer = setTimeout(poll, Math.min(pollMs * 2 ** failures, MAX_POLL_BACKOFF_MS));
    };

    async function poll(): Promise<void> {
      stop();
      const controller = new AbortController();
      inFlight = controller;
      try {
        const page = await api.listActivity({ signal: controller.signal });
        if (controller.signal.aborted) return;
        failures = 0;
        dispatch({ type: 'refreshed', page });
      } catch (error) {
        // Aborted: whoever aborted (unmount, hide, newer poll) owns what comes next.
        if (api.isAbortError(error) || controller.signal.aborted) return;
        failures += 1;
        dispatch({ type: 'refreshFailed', error: api.errorMessage(error) });
      }
      schedule();
    }

    const onVisibilityChange = () => {
      if (isPageHidden()) stop();
      else void poll();
    };

    document.addEventListener('visibilitychange', onVisibilityChange);
    if (!isPageHidden()) void poll();
    return () => {
      document.removeEventListener('visibilitychange', onVisibilityChange);
      stop();
    };
  }, [pollMs, generation]);

  const { olderCursor, loadingOlder } = state;
  const loadOlder = useCallback(async () => {
    if (!olderCursor || loadingOlder) return;
    dispatch({ type: 'loadOlder' });
    try {
      dispatch({ type: 'loadedOlder', page: await api.listActivity({ cursor: olderCursor }) });
    } catch (error) {
      dispatch({ type: 'loadOlderFailed', error: api.errorMessage(error) });
    }
  }, [olderCursor, loadingOlder]);

  return { ...state, refresh, loadOlder };
}
