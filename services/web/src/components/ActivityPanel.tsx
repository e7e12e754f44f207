import type { ActivityEvent } from '../api/types.ts';
import type { UseActivity } from '../hooks/useActivity.ts';

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

function ActivityEntry({ event }: { event: ActivityEvent }) {
  const kind = event.type.replace('todo.', '');
  return (
    <li className="activity__entry">
      <span className={`badge badge--${kind}`}>{event.type}</span>{' '}
      <span className="activity__text">{event.text ?? '(text not recorded)'}</span>{' '}
      <time className="activity__time" dateTime={event.occurredAt}>
        {formatTime(event.occurredAt)}
      </time>
    </li>
  );
}

/**
 * The region named "Activity". It refreshes itself (see useActivity); poll
 * failures show as a quiet note rather than an alert, since they repeat.
 */
export function ActivityPanel({ activity }: { activity: UseActivity }) {
  const { events, status, error, olderCursor, loadingOlder, loadOlderError } = activity;

  return (
    <section className="activity" aria-labelledby="activity-heading">
      <h2 id="activity-heading">Activity</h2>
      {status === 'loading' && <p className="muted">Loading activity…</p>}
      {error && (
        <p className="error">
          {status === 'error' ? 'Could not load activity.' : 'Activity may be out of date.'} {error}
        </p>
      )}
      {status === 'ready' && events.length === 0 && <p className="muted">No activity yet.</p>}
      <ol className="activity__list">
        {events.map((event) => (
          <ActivityEntry key={event.eventId} event={event} />
        ))}
      </ol>
      {loadOlderError && <p className="error">Could not load older activity. {loadOlderError}</p>}
      {status === 'ready' && olderCursor && (
        <button
          type="button"
          className="button load-more"
          onClick={activity.loadOlder}
          aria-busy={loadingOlder}
        >
          {loadingOlder ? 'Loading…' : 'Load older activity'}
        </button>
      )}
    </section>
  );
}
