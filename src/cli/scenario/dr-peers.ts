import type { Activity } from '../../../sim/scenario/activity.js';
import type { DrInterval } from '../../../sim/scenario/types.js';
import { createVtnSim } from '../../../sim/utility/vtn.js';
import type { SteppingClock } from './clock.js';
import type { Peers } from './harness.js';

const VEN = { clientId: 'ven-client', clientSecret: 'ven-secret' };

/**
 * The utility for dr-day: the VTN simulator on the day's clock publishing
 * each import limit as an OpenADR 3 IMPORT_CAPACITY_LIMIT event when the
 * utility announces it; gridkeeper's VEN is pointed at it by config.
 */
export async function startDrPeers(
  intervals: readonly DrInterval[],
  clock: SteppingClock,
  activity: Activity,
): Promise<Peers> {
  const vtn = createVtnSim({
    clock,
    programs: [{ programName: 'depot-dr' }],
    clients: [{ ...VEN, role: 'ven' }],
  });
  await vtn.start();
  activity.watch(() => vtn.stats.requests);
  const programID = [...vtn.programs.values()][0]?.id ?? '';
  const publish = (d: DrInterval) =>
    vtn.createEvent({
      programID,
      eventName: d.id,
      payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' }],
      intervalPeriod: {
        start: new Date(d.start).toISOString(),
        duration: `PT${Math.round((d.end - d.start) / 1000)}S`,
      },
      intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [d.importLimitW / 1000] }] }],
    });
  const timers = intervals.map((d) => {
    const at = d.announcedAt ?? clock.now();
    if (at <= clock.now()) {
      publish(d);
      return undefined;
    }
    return clock.setTimeout(() => publish(d), at - clock.now());
  });
  return {
    gatewayConfig: {
      grid: {
        openadr: {
          enabled: true,
          vtnUrl: vtn.url,
          ...VEN,
          venName: 'scenario-depot',
          programNames: ['depot-dr'],
          pollIntervalMs: 10_000,
        },
      },
    },
    async stop() {
      for (const t of timers) clock.clearTimeout(t);
      await vtn.stop();
    },
  };
}
