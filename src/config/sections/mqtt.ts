import { z } from 'zod';

/** Placeholder: the mqtt area replaces this with its real schema (keep the export names). */
export const MqttSchema = z.object({}).passthrough();

export type MqttConfig = z.infer<typeof MqttSchema>;
