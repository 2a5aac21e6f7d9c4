import { z } from 'zod';

/** Placeholder: the grid area replaces this with its real schema (keep the export names). */
export const GridSchema = z.object({}).passthrough();

export type GridConfig = z.infer<typeof GridSchema>;
