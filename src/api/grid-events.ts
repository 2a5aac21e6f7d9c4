import type { EventHub } from '../integration/events.js';
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
  const seen = new Map<string, string>();
  const publishChanges = () => {
    const now = clock.now();
    for (const e of grid.events({ from: now - 86_400_000 })) {
      const key = `${e.status}|${e.value ?? ''}|${e.end ?? ''}`;
      if (seen.get(e.id) === key) continue;
      seen.set(e.id, key);
      hub.publish('grid.event', {
        eventId: e.id,
        source: e.source,
        kind: e.kind,
        status: e.status,
        start: new Date(e.start).toISOString(),
        end: e.end !== undefined ? new Date(e.end).toISOString() : null,
        value: e.value ?? null,
        unit: e.unit ?? null,
      });
    }
  };
  for (const e of grid.events({ from: clock.now() - 86_400_000 }))
    seen.set(e.id, `${e.status}|${e.value ?? ''}|${e.end ?? ''}`);
  return onChange(publishChanges);
}
