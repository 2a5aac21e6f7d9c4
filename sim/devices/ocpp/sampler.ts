import type { Clock, TimerHandle } from '../../../src/model/clock.js';
import type { ChargerConfig } from './config.js';
import type { MeasurandSpec } from './meter.js';

export type SampleKind = 'periodic' | 'clock';

/**
 * The charger's two meter value clocks, re-armed whenever the
 * configuration changes: sampled values every MeterValueSampleInterval
 * (TxUpdatedInterval) counted from the change, and clock-aligned values
 * at whole multiples of ClockAlignedDataInterval (AlignedDataCtrlr.Interval)
 * since midnight UTC, as OCPP defines them.
 */
export class MeterSampler {
  private periodic?: TimerHandle;
  private periodicMs = 0;
  private aligned?: TimerHandle;
  private alignedMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly config: ChargerConfig,
    private readonly onSample: (kind: SampleKind, measurands: MeasurandSpec[]) => void,
  ) {}

  /** Arm (or re-arm) both clocks from the configuration in force; a timer whose period did not change keeps its phase. */
  apply(): void {
    const sampled = this.config.sampled();
    if (sampled.intervalMs !== this.periodicMs || !this.periodic) {
      this.clock.clearInterval(this.periodic);
      this.periodic = undefined;
      this.periodicMs = sampled.intervalMs;
      if (sampled.intervalMs > 0) {
        this.periodic = this.clock.setInterval(
          () => this.onSample('periodic', this.config.sampled().measurands),
          sampled.intervalMs,
        );
      }
    }
    const aligned = this.config.aligned();
    if (aligned.intervalMs !== this.alignedMs) {
      this.clock.clearTimeout(this.aligned);
      this.aligned = undefined;
      this.alignedMs = aligned.intervalMs;
      if (aligned.intervalMs > 0) this.armAligned();
    }
  }

  stop(): void {
    this.clock.clearInterval(this.periodic);
    this.clock.clearTimeout(this.aligned);
    this.periodic = undefined;
    this.aligned = undefined;
    this.periodicMs = 0;
    this.alignedMs = 0;
  }

  private armAligned(): void {
    const every = this.alignedMs;
    const now = this.clock.now();
    const wait = every - (now % every);
    this.aligned = this.clock.setTimeout(() => {
      this.onSample('clock', this.config.aligned().measurands);
      if (this.alignedMs === every) this.armAligned();
    }, wait);
  }
}
