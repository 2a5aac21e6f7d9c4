import { describe, expect, it } from 'vitest';
import {
  addDuration,
  durationMs,
  eventToSignals,
  resolveIntervals,
  targetsUs,
} from '../../../adapters/openadr/events.js';
import { EventSchema, ProgramSchema, ReportSchema } from '../../../adapters/openadr/schemas.js';
import { buildReport } from '../../../adapters/openadr/ven.js';

const T = Date.parse('2023-06-15T09:30:00Z');

// Shapes follow the examples of the OpenADR 3.0.1 OpenAPI document (oadr3.0.1.yaml).
const program = ProgramSchema.parse({
  id: 'object-999',
  createdDateTime: '2023-06-15T09:30:00Z',
  objectType: 'PROGRAM',
  programName: 'ResTOU',
  programLongName: 'Residential Time of Use-A',
  retailerName: 'ACME',
  payloadDescriptors: null,
  targets: null,
});

function event(over: Record<string, unknown>) {
  return EventSchema.parse({
    id: 'object-999',
    objectType: 'EVENT',
    programID: 'object-999',
    eventName: 'price event 11-18-2022',
    priority: 0,
    targets: null,
    reportDescriptors: null,
    payloadDescriptors: null,
    intervalPeriod: { start: '2023-06-15T09:30:00Z', duration: 'PT1H', randomizeStart: 'PT0S' },
    intervals: [{ id: 0, payloads: [{ type: 'PRICE', values: [0.17] }] }],
    ...over,
  });
}

const opts = { venName: 'VEN-999', resourceNames: ['site'], now: T };

describe('ISO 8601 durations', () => {
  it.each([
    ['PT1H', 3_600_000],
    ['PT15M', 900_000],
    ['PT0.5S', 500],
    ['P1D', 86_400_000],
    ['P1W', 7 * 86_400_000],
    ['P1DT2H3M4S', 86_400_000 + 7_384_000],
    ['PT0S', 0],
  ])('%s = %d ms', (d, ms) => expect(durationMs(d)).toBe(ms));

  it('adds calendar months and years', () => {
    expect(new Date(addDuration(Date.parse('2024-01-31T00:00:00Z'), 'P1Y')!).toISOString()).toBe(
      '2025-01-31T00:00:00.000Z',
    );
    expect(new Date(addDuration(Date.parse('2024-03-01T00:00:00Z'), 'P1M')!).toISOString()).toBe(
      '2024-04-01T00:00:00.000Z',
    );
  });

  it('refuses non-durations', () => {
    expect(durationMs('1 hour')).toBeUndefined();
    expect(durationMs('P')).toBeUndefined();
    expect(durationMs('PT')).toBeUndefined();
  });
});

describe('interval resolution', () => {
  it('runs intervals back to back from the event start with the event duration', () => {
    const ev = event({
      intervals: [
        { id: 0, payloads: [{ type: 'PRICE', values: [0.17] }] },
        { id: 1, payloads: [{ type: 'PRICE', values: [0.25] }] },
      ],
    });
    const { intervals } = resolveIntervals(ev);
    expect(intervals.map((i) => [i.start - T, i.end - T])).toEqual([
      [0, 3_600_000],
      [3_600_000, 7_200_000],
    ]);
  });

  it("lets an interval's own intervalPeriod override the event's", () => {
    const ev = event({
      intervals: [
        {
          id: 0,
          intervalPeriod: { start: '2023-06-15T12:00:00Z', duration: 'PT30M' },
          payloads: [{ type: 'PRICE', values: [1] }],
        },
      ],
    });
    const [iv] = resolveIntervals(ev).intervals;
    expect(iv?.start).toBe(Date.parse('2023-06-15T12:00:00Z'));
    expect(iv?.end).toBe(Date.parse('2023-06-15T12:30:00Z'));
  });

  it('treats PT0S / absent duration as open-ended', () => {
    const ev = event({ intervalPeriod: { start: '2023-06-15T09:30:00Z' } });
    expect(resolveIntervals(ev).intervals[0]?.end).toBe(Number.POSITIVE_INFINITY);
  });

  it('reports an interval without any start', () => {
    const ev = event({ intervalPeriod: null });
    const r = resolveIntervals(ev);
    expect(r.intervals).toHaveLength(0);
    expect(r.issues[0]?.field).toBe('intervals[0].intervalPeriod');
  });
});

describe('event → grid signals', () => {
  it('converts kW capacity limits to W', () => {
    const ev = event({
      payloadDescriptors: [
        { objectType: 'EVENT_PAYLOAD_DESCRIPTOR', payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' },
      ],
      intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [30] }] }],
    });
    const r = eventToSignals(ev, program, opts);
    expect(r.issues).toEqual([]);
    expect(r.signals[0]).toMatchObject({
      kind: 'importLimit',
      value: 30_000,
      eventId: 'object-999',
      start: T,
      end: T + 3_600_000,
    });
  });

  it('keeps W as W and reads MW', () => {
    const w = event({
      payloadDescriptors: [{ payloadType: 'EXPORT_CAPACITY_LIMIT', units: 'W' }],
      intervals: [{ id: 0, payloads: [{ type: 'EXPORT_CAPACITY_LIMIT', values: [5000] }] }],
    });
    expect(eventToSignals(w, program, opts).signals[0]?.value).toBe(5000);
    const mw = event({
      payloadDescriptors: [{ payloadType: 'DISPATCH_SETPOINT', units: 'MW' }],
      intervals: [{ id: 0, payloads: [{ type: 'DISPATCH_SETPOINT', values: [-0.05] }] }],
    });
    expect(eventToSignals(mw, program, opts).signals[0]).toMatchObject({ kind: 'setpoint', value: -50_000 });
  });

  it('refuses unknown units naming the field instead of misreading them', () => {
    const ev = event({
      payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'HP' }],
      intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [30] }] }],
    });
    const r = eventToSignals(ev, program, opts);
    expect(r.signals).toEqual([]);
    expect(r.issues[0]?.field).toBe('payloadDescriptors.units');
  });

  it('refuses a non-numeric value and a SIMPLE level out of range', () => {
    const bad = event({ intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: ['lots'] }] }] });
    expect(eventToSignals(bad, program, opts).issues[0]?.field).toBe('intervals[id=0].payloads[0].values[0]');
    const simple = event({ intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [7] }] }] });
    expect(eventToSignals(simple, program, opts).issues[0]?.message).toContain('0..3');
  });

  it('reads PRICE per kWh with its currency, and converts per MWh', () => {
    const ev = event({ payloadDescriptors: [{ payloadType: 'PRICE', units: 'KWH', currency: 'USD' }] });
    expect(eventToSignals(ev, program, opts).signals[0]).toMatchObject({ kind: 'price', value: 0.17, currency: 'USD' });
    const mwh = event({
      payloadDescriptors: [{ payloadType: 'PRICE', units: 'MWH', currency: 'EUR' }],
      intervals: [{ id: 0, payloads: [{ type: 'PRICE', values: [120] }] }],
    });
    expect(eventToSignals(mwh, program, opts).signals[0]?.value).toBeCloseTo(0.12);
  });

  it('reads GHG (carbon intensity) in g/kWh', () => {
    const ev = event({
      payloadDescriptors: [{ payloadType: 'GHG', units: 'KG_PER_KWH' }],
      intervals: [{ id: 0, payloads: [{ type: 'GHG', values: [0.35] }] }],
    });
    expect(eventToSignals(ev, program, opts).signals[0]).toMatchObject({ kind: 'ghg', value: 350 });
  });

  it('skips payload types it does not use without refusing the event', () => {
    const ev = event({
      intervals: [
        {
          id: 0,
          payloads: [
            { type: 'ALERT_GRID_EMERGENCY', values: ['x'] },
            { type: 'SIMPLE', values: [2] },
          ],
        },
      ],
    });
    const r = eventToSignals(ev, program, opts);
    expect(r.issues).toEqual([]);
    expect(r.skipped[0]?.field).toContain('type');
    expect(r.signals).toHaveLength(1);
  });

  it('shifts VTN times by the clock offset', () => {
    const r = eventToSignals(event({}), program, { ...opts, clockOffsetMs: -5000 });
    expect(r.signals[0]?.start).toBe(T - 5000);
  });

  it('honours targets (3.0.1 valuesMap and 3.1 strings)', () => {
    expect(targetsUs(null, 'VEN-999', ['site'])).toBe(true);
    expect(targetsUs([{ type: 'VEN_NAME', values: ['VEN-999'] }], 'VEN-999', ['site'])).toBe(true);
    expect(targetsUs([{ type: 'VEN_NAME', values: ['other'] }], 'VEN-999', ['site'])).toBe(false);
    expect(targetsUs([{ type: 'RESOURCE_NAME', values: ['battery'] }], 'VEN-999', ['site', 'battery'])).toBe(true);
    expect(targetsUs([{ type: 'POSTAL_CODE', values: ['12345'] }], 'VEN-999', ['site'])).toBe(true);
    expect(targetsUs(['group-a'], 'VEN-999', ['site'])).toBe(false);
    const r = eventToSignals(event({ targets: [{ type: 'VEN_NAME', values: ['other'] }] }), program, opts);
    expect(r.targeted).toBe(false);
    expect(r.signals).toEqual([]);
  });
});

describe('reports', () => {
  const m = { siteW: 28_400, flexibleW: 50_000, resources: { battery: -20_000, other: 1 } };
  const o = { since: T, now: T + 900_000, venName: 'VEN-999', resourceNames: ['site', 'battery'] };

  it('reports DEMAND and UP_REGULATION_AVAILABLE per resource by default', () => {
    const r = buildReport(event({}), 'object-999', m, o);
    expect(r.resources.map((x) => x.resourceName)).toEqual(['site', 'battery']);
    expect(r.resources[0]?.intervals[0]?.payloads).toEqual([
      { type: 'DEMAND', values: [28.4] },
      { type: 'UP_REGULATION_AVAILABLE', values: [50] },
    ]);
    expect(r.resources[1]?.intervals[0]?.payloads).toEqual([{ type: 'DEMAND', values: [-20] }]);
    expect(ReportSchema.safeParse(r).success).toBe(true);
  });

  it('follows the reportDescriptors the event asks for, aggregated when asked', () => {
    const ev = event({
      reportDescriptors: [
        { payloadType: 'USAGE', aggregate: true },
        { payloadType: 'STORAGE_CHARGE_LEVEL', aggregate: true },
      ],
    });
    const r = buildReport(ev, 'object-999', m, o);
    expect(r.resources.map((x) => x.resourceName)).toEqual(['AGGREGATED_REPORT']);
    // 28.4 kW over 15 min = 7.1 kWh.
    expect(r.resources[0]?.intervals[0]?.payloads).toEqual([{ type: 'USAGE', values: [7.1] }]);
    expect(r.payloadDescriptors?.[0]).toMatchObject({ payloadType: 'USAGE', units: 'KWH' });
  });
});
