import { z } from 'zod';

/** Placeholder: the fleet area replaces this with its real schema (keep the export names). */
export const FleetSchema = z.object({}).passthrough();

export type FleetConfig = z.infer<typeof FleetSchema>;
