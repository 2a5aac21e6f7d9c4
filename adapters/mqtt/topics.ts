/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A topic segment for an id: MQTT separators and wildcards are replaced (`CP01/1` -> `CP01_1`). */
export function topicSegment(id: string): string {
  return id.replace(/[/+#\s]/g, '_');
}
