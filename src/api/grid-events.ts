import { type EventHub, RepeatFilter } from '../integration/events.js';
import type { Clock } from '../model/clock.js';
import type { GridProvider } from './providers.js';

/**
 * Publish each new or changed grid event (status, value or end) once on the partners' event stream,
 * whenever the grid service reports a change. Returns the unsubscribe function.
 */
export function publishGridEvents(
  grid: Pick<GridProvider, 'events'>,
  onChange: (listener: () => void) => () => void,
  hub: Pick<EventHub, 'publish'>,
  clock: Clock,
): () => void {
  // One OpenADR event carries many slots (24 hourly prices) under one id: each slot is a subject.
  const seen = new RepeatFilter();
  const views = () =>
    grid.events({ from: clock.now() - 86_400_000 }).map((e) => ({
      eventId: e.id,
      source: e.source,
      kind: e.kind,
      status: e.status,
      start: new Date(e.start).toISOString(),
      end: e.end !== undefined ? new Date(e.end).toISOString() : null,
      value: e.value ?? null,
      unit: e.unit ?? null,
    }));
  const subject = (v: { eventId: string; start: string }) => `${v.eventId}@${v.start}`;
  for (const v of views()) seen.isNew(subject(v), v);
  return onChange(() => {
    for (const v of views()) if (seen.isNew(subject(v), v)) hub.publish('grid.event', v);
  });
}
