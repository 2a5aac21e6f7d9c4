import { ProblemError, problem } from './problem.js';

/** The media types `Accept` allows, with their weights (RFC 9110 §12.5.1, parameters other than q ignored). */
function accepted(header: string): Array<{ type: string; q: number; order: number }> {
  return header
    .split(',')
    .map((part, order) => {
      const [type = '', ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim(), q: q ? Number(q.slice(2)) : 1, order };
    })
    .filter((a) => a.type !== '' && Number.isFinite(a.q));
}

/** How much `accept` wants `offer`: the weight of its most specific matching range, 0 if none. */
function weight(ranges: ReturnType<typeof accepted>, offer: string): { q: number; specificity: number; order: number } {
  const [major] = offer.split('/');
  let best = { q: 0, specificity: -1, order: Number.POSITIVE_INFINITY };
  for (const r of ranges) {
    const specificity = r.type === offer ? 2 : r.type === `${major}/*` ? 1 : r.type === '*/*' ? 0 : -1;
    if (specificity > best.specificity) best = { q: r.q, specificity, order: r.order };
  }
  return best;
}

/**
 * The offer the client prefers (`offers` in server preference order), or 406 when it accepts none.
 * No `Accept` header means anything: the first offer.
 */
export function negotiate<T extends string>(acceptHeader: string | undefined, offers: readonly T[]): T {
  const first = offers[0];
  if (first === undefined) throw new Error('negotiate needs at least one offer');
  if (!acceptHeader?.trim()) return first;
  const ranges = accepted(acceptHeader);
  let chosen: { offer: T; q: number; specificity: number; order: number } | undefined;
  for (const offer of offers) {
    const w = weight(ranges, offer);
    if (w.q <= 0) continue;
    // Higher weight wins; on equal weight an explicitly named type beats a wildcard, then the client's order.
    if (
      !chosen ||
      w.q > chosen.q ||
      (w.q === chosen.q &&
        (w.specificity > chosen.specificity || (w.specificity === chosen.specificity && w.order < chosen.order)))
    )
      chosen = { offer, ...w };
  }
  if (!chosen) {
    throw new ProblemError(problem(406, { detail: `this resource is available as ${offers.join(' or ')}` }));
  }
  return chosen.offer;
}
