import { z } from 'zod';

/** Placeholder: the integration area replaces this with its real schema (keep the export names). */
export const IntegrationSchema = z.object({}).passthrough();

export type IntegrationConfig = z.infer<typeof IntegrationSchema>;
