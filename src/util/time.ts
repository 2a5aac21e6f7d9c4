/** An instant as ISO 8601 UTC, without the `.000` of whole seconds (how grid events are shown and logged). */
export function iso(ts: number): string {
  return new Date(ts).toISOString().replace(/\.000Z$/, 'Z');
}
