import { StartupError } from './startup.js';

/** The simulated sun's offset from the clock so that it reads `sunTime` at `now`, ms (0 for `clock`). */
export function sunOffsetMs(sunTime: string | undefined, now: number): number {
  if (!sunTime || sunTime === 'clock') return 0;
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(sunTime);
  if (!m) throw new StartupError(`--sun-time must be HH:MM or "clock", not "${sunTime}"`, 2);
  const want = (Number(m[1]) * 60 + Number(m[2])) * 60_000;
  const day = 86_400_000;
  return (((want - (now % day)) % day) + day) % day;
}

/** "11:00 solar time (clock + 5 h 12 min)": what the demo's sun shows and how far it is from the clock. */
export function describeSun(offsetMs: number, now: number): string {
  const sun = new Date(now + offsetMs).toISOString().slice(11, 16);
  if (offsetMs === 0) return `${sun} UTC (follows the clock)`;
  const min = Math.round(offsetMs / 60_000);
  return `${sun} solar time now (clock UTC + ${Math.floor(min / 60)} h ${min % 60} min; --sun-time clock to follow the clock)`;
}
