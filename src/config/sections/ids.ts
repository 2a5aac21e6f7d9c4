import { z } from 'zod';

/** The id of a site or device: it appears in MQTT topics and metric labels. */
export const SlugIdSchema = z
  .string()
  .min(1)
  .regex(/^[a-zA-Z0-9_-]+$/, 'letters, digits, _ and - only');

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

/** The same check over a whole list. */
export function checkUniqueIds(ctx: z.RefinementCtx, key: string, items: readonly { readonly id: string }[]): void {
  const checkId = uniqueIdCheck(ctx, key);
  items.forEach((item, i) => {
    checkId(item.id, i);
  });
}
