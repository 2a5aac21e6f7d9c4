import { z } from 'zod';

/** Placeholder: the opcua area replaces this with its real schema (keep the export names). */
export const OpcuaSchema = z.object({}).passthrough();

export type OpcuaConfig = z.infer<typeof OpcuaSchema>;
