import { z } from 'zod';

export const ApiSchema = z
  .object({
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Listen address; keep 127.0.0.1 unless a reverse proxy or firewall protects it.'),
    port: z.number().int().min(0).max(65535).default(8080),
    anonymousRead: z.boolean().default(false).describe('Allow GET requests without an API key.'),
  })
  .passthrough();

export type ApiConfig = z.infer<typeof ApiSchema>;
