import type { z } from 'zod';

/**
 * A check, called for the items of the list `key` in order, that adds an issue
 * at `[key, i, 'id']` for every id an earlier item already has.
 */
export function uniqueIdCheck(ctx: z.RefinementCtx, key: string): (id: string, i: number) => void {
  const ids = new Set<string>();
  return (id, i) => {
    if (ids.has(id)) ctx.addIssue({ code: 'custom', path: [key, i, 'id'], message: `duplicate id "${id}"` });
    ids.add(id);
  };
}
