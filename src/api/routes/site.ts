import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { badRequest } from '../problem.js';
import { TimeParam } from '../schema.js';
import { type RouteDeps, iso, command, reading, zodPlugin } from './deps.js';
import { ReasonSchema, buildState } from './state.js';

const OverrideSchema = z.object({
  active: z.boolean(),
  limitW: z.number().nullable(),
  until: z.string().nullable(),
  reason: z.string().nullable(),
  setBy: z.string().nullable(),
});

const OverrideBody = z
  .object({
    limitW: z.number().nonnegative().describe('Temporary site import limit, W'),
    until: TimeParam.optional().describe('End of the override (epoch ms or ISO); or give durationS'),
    durationS: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .optional(),
    reason: z.string().max(500).default('operator override'),
  })
  .strict()
  .superRefine((b, c) => {
    if ((b.until === undefined) === (b.durationS === undefined))
      c.addIssue({ code: 'custom', path: ['durationS'], message: 'give exactly one of until or durationS' });
  });

/** The site: its configuration, limits in force and the operator's temporary limit override. */
export function siteRoutes({ ctx, integration }: RouteDeps): FastifyPluginAsync {
  const overrideView = () => {
    const o = integration.siteOverride.active();
    return o
      ? { active: true, limitW: o.limitW, until: iso(o.until), reason: o.reason, setBy: o.setBy }
      : { active: false, limitW: null, until: null, reason: null, setBy: null };
  };
  return zodPlugin((r) => {
    r.get(
      '/api/v1/site',
      reading('site', {
        summary: 'Site configuration, limits in force and the active override',
        response: {
          200: z.object({
            id: z.string(),
            name: z.string(),
            contractLimitW: z.number(),
            limitW: z.number(),
            failsafeLimitW: z.number(),
            failsafe: z.boolean(),
            limitReasons: z.array(ReasonSchema),
            override: OverrideSchema,
            circuits: z.array(z.object({ id: z.string(), parent: z.string(), maxCurrentA: z.number() })),
          }),
        },
      }),
      async () => {
        const s = buildState(ctx, { override: () => integration.siteOverride.active() });
        return {
          id: ctx.config.site.id,
          name: ctx.config.site.name,
          contractLimitW: ctx.config.site.limitW,
          limitW: s.site.limitW,
          failsafeLimitW: ctx.config.site.failsafeLimitW,
          failsafe: s.site.failsafe,
          limitReasons: s.site.reasons,
          override: overrideView(),
          circuits: ctx.config.site.circuits.map((c) => ({ id: c.id, parent: c.parent, maxCurrentA: c.maxCurrentA })),
        };
      },
    );
    r.get(
      '/api/v1/site/limit-override',
      reading('site', {
        summary: 'The temporary site-limit override in force',
        response: { 200: OverrideSchema },
      }),
      async () => overrideView(),
    );
    r.put(
      '/api/v1/site/limit-override',
      command('site.limit-override.set', 'site', {
        summary: 'Set a temporary site import limit with an expiry (can only tighten, never lift safety limits)',
        body: OverrideBody,
        response: { 200: OverrideSchema },
      }),
      async (req) => {
        const now = ctx.clock.now();
        const b = req.body;
        const until = b.until ?? now + (b.durationS ?? 0) * 1000;
        if (until <= now) {
          throw badRequest('1 invalid field', [
            { in: 'body', path: 'body.until', pointer: '/until', message: 'must be in the future' },
          ]);
        }
        integration.siteOverride.set({
          limitW: b.limitW,
          until,
          reason: b.reason,
          setBy: req.principal?.name ?? 'unknown',
        });
        ctx.loop.notifyChange();
        return overrideView();
      },
    );
    r.delete(
      '/api/v1/site/limit-override',
      command('site.limit-override.clear', 'site', {
        summary: 'End the override now',
        response: { 200: OverrideSchema },
      }),
      async () => {
        integration.siteOverride.clear();
        ctx.loop.notifyChange();
        return overrideView();
      },
    );
  });
}
