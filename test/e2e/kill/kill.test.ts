import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runKillSoak } from '../../../bench/peers/kill-soak.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * Issue 14 item 4: the gateway as `gridkeeper run` in its own process,
 * 20 OCPP 1.6J chargers cycling sessions through it (plain ws, their own
 * codec), a CMS of the same kind that goes away for 12 s of gateway up time in the middle
 * (one kill inside the outage, one while its backlog is replayed), and
 * SIGKILL at 20 seeded random moments with restarts on the same data
 * directory. Judged on the CMS's own record.
 */
describe('crash safety under kill -9', () => {
  it('every confirmed charger message reaches the CMS once, in order, under the ids the CMS issued', async () => {
    const r = await runKillSoak({
      root: ROOT,
      entry: 'dist',
      seed: 14,
      chargers: 20,
      kills: 20,
      log: (line) => process.stderr.write(`kill-soak: ${line}\n`),
    });
    const { examples, chargerLastErrors, ...figures } = r;
    process.stderr.write(`kill-soak: ${JSON.stringify(figures)}\n${examples.join('\n')}\n`);
    // The run really did what it claims: kills, offline sessions, traffic.
    expect(r.kills).toBeGreaterThanOrEqual(20);
    expect(r.offlineSessions, 'sessions started while the CMS was away').toBeGreaterThanOrEqual(5);
    expect(r.sessions).toBeGreaterThan(100);
    expect(r.chargerFailures).toEqual([]);
    expect(r.chargersNotIdle, 'chargers stuck in a session at the end').toBe(0);
    expect(r.unconfirmed, 'charger messages never confirmed').toBe(0);
    expect({
      lost: r.lost,
      wrongId: r.wrongId,
      duplicateNewId: r.duplicateNewId,
      outOfOrder: r.outOfOrder,
      foreign: r.foreign,
      sessionsUnknownToCms: r.sessionsUnknownToCms,
    }).toEqual({ lost: 0, wrongId: 0, duplicateNewId: 0, outOfOrder: 0, foreign: 0, sessionsUnknownToCms: 0 });
    // Allowed, but counted: the CMS can recognise these by their message id.
    process.stderr.write(`kill-soak: duplicates with the same message id: ${r.duplicateSameId}\n`);
  });
});
