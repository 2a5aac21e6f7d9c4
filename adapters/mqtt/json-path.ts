/**
 * A deliberately tiny JSON path: dotted keys and numeric indices
 * (`power.total`, `$.phases[0]`, `meters.0.w`). Device payloads are shallow;
 * a full JSONPath engine would add filter expressions nobody configures.
 */
export function compilePath(path: string): ReadonlyArray<string | number> {
  const trimmed = path.startsWith('$') ? path.slice(1) : path;
  const segments: Array<string | number> = [];
  for (const raw of trimmed.split('.')) {
    if (raw === '') continue;
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(raw);
    if (!m) throw new Error(`invalid JSON path segment "${raw}" in "${path}"`);
    if (m[1]) segments.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) segments.push(Number(idx[1]));
  }
  return segments;
}

export function getPath(value: unknown, segments: ReadonlyArray<string | number>): unknown {
  let cur: unknown = value;
  for (const seg of segments) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}
