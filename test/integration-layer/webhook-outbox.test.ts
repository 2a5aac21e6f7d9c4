import { describe, expect, it } from 'vitest';
import { EventHub } from '../../src/integration/events.js';
import { INTEGRATION_MIGRATIONS } from '../../src/integration/migrations.js';
import { WebhookService } from '../../src/integration/webhooks.js';
import { VirtualClock } from '../../src/model/clock.js';
import type { WebhookAttempt, WebhookMessage, WebhookSender } from '../../src/ports/webhooks.js';
import { openDatabase } from '../../src/store/db.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMetricsRegistry } from '../../src/util/metrics.js';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;

/** A receiver that answers from a script, recording when (on the virtual clock) each attempt came. */
function scriptedSender(clock: VirtualClock, answers: WebhookAttempt[]) {
  const attempts: Array<{ at: number; message: WebhookMessage }> = [];
  const sender: WebhookSender = {
    async send(message) {
      attempts.push({ at: clock.now(), message });
      return answers.shift() ?? { status: 204, error: null };
    },
  };
  return { sender, attempts };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('webhook outbox over a WebhookSender port (no HTTP)', () => {
  it('retries a failing receiver on the shared exponential back-off, then delivers in order', async () => {
    const clock = new VirtualClock(Date.UTC(2026, 0, 1));
    const db = openDatabase({ path: ':memory:', migrations: INTEGRATION_MIGRATIONS });
    const hub = new EventHub({ clock, db, retain: 100 });
    const fail: WebhookAttempt = { status: 503, error: 'HTTP 503' };
    const rx = scriptedSender(clock, [fail, fail, fail]);
    const service = new WebhookService({
      db,
      clock,
      log: silentLogger(),
      metrics: createMetricsRegistry({ defaultMetrics: false }),
      hub,
      sender: rx.sender,
      delivery: { initialBackoffMs: 1000, maxBackoffMs: 3000, deadAfterMs: 3_600_000, keepDeliveredMs: 60_000 },
      config: [{ id: 'wh-1', url: 'http://receiver.invalid/hook', events: ['*'], secret: SECRET }],
    });
    try {
      service.start();
      const t0 = clock.now();
      hub.publish('site.failsafe', { active: true, reason: 'test' });
      hub.publish('site.failsafe', { active: false, reason: 'test' });
      for (let i = 0; i < 20; i++) {
        await settle();
        clock.advance(500);
      }
      await settle();
      // 1 s, 2 s, then capped at 3 s between the attempts at the head; the second event only after the first.
      expect(rx.attempts.map((a) => a.at - t0)).toEqual([0, 1000, 3000, 6000, 6000]);
      expect(rx.attempts.map((a) => a.message.msgId)).toEqual(['1', '1', '1', '1', '2']);
      expect(rx.attempts[0]?.message.secret).toBe(SECRET);
      expect(service.stats('wh-1')).toMatchObject({ pending: 0, delivered: 2, dead: 0 });
    } finally {
      await service.stop();
      db.close();
    }
  });
});
