import type { VenMeasurements } from '../../src/model/grid.js';
import { iso } from '../../src/util/time.js';
import type { OadrEvent, OadrReport } from './schemas.js';

/** Report payload types the VEN can measure, in kW (USAGE: kWh over the report period). */
const REPORTABLE = new Set(['DEMAND', 'USAGE', 'UP_REGULATION_AVAILABLE']);
/** Private payload type (OpenADR 3 allows them): the import limit is not met at the grid meter, with the reason. */
export const NOT_MET = 'X_GRIDKEEPER_LIMIT_NOT_MET';

/**
 * One report for an event: the payload types the event's reportDescriptors
 * ask for (those we can measure), or DEMAND and UP_REGULATION_AVAILABLE when
 * it asks for none; per resource unless every descriptor asks for an
 * aggregate.
 */
export function buildReport(
  event: OadrEvent,
  eventId: string,
  m: VenMeasurements,
  o: { since: number; now: number; venName: string; resourceNames: readonly string[] },
): OadrReport {
  const asked = (event.reportDescriptors ?? []).map((d) => d.payloadType).filter((t) => REPORTABLE.has(t));
  const types = asked.length > 0 ? [...new Set(asked)] : ['DEMAND', 'UP_REGULATION_AVAILABLE'];
  const aggregate =
    (event.reportDescriptors ?? []).length > 0 && (event.reportDescriptors ?? []).every((d) => d.aggregate);
  const hours = Math.max(1, o.now - o.since) / 3_600_000;
  const kw = (w: number) => Math.round(w / 10) / 100;
  const value = (type: string, w: number | undefined): number | undefined => {
    if (w === undefined) return undefined;
    if (type === 'USAGE') return Math.round((w / 1000) * hours * 1000) / 1000;
    return kw(w);
  };
  const payloads = (siteLike: boolean, w: number | undefined) =>
    types.flatMap((t) => {
      const v = t === 'UP_REGULATION_AVAILABLE' ? (siteLike ? value(t, m.flexibleW) : undefined) : value(t, w);
      return v === undefined ? [] : [{ type: t, values: [v] }];
    });
  // A limit the site does not meet is never reported as met: the VTN gets the reason with the figures.
  const lim = m.limit;
  const notMet =
    lim?.met === false && (lim.source !== 'openadr' || lim.eventId === eventId)
      ? [{ type: NOT_MET, values: [lim.why ?? 'not met'] }]
      : [];
  const period = { start: iso(o.since), duration: `PT${Math.max(1, Math.round((o.now - o.since) / 1000))}S` };
  const resources = [
    {
      resourceName: aggregate ? 'AGGREGATED_REPORT' : 'site',
      intervalPeriod: period,
      intervals: [{ id: 0, payloads: [...payloads(true, m.siteW), ...notMet] }],
    },
    ...(aggregate
      ? []
      : Object.entries(m.resources ?? {})
          .filter(([name]) => o.resourceNames.includes(name))
          .map(([name, w]) => ({
            resourceName: name,
            intervalPeriod: period,
            intervals: [{ id: 0, payloads: payloads(false, w) }],
          }))),
  ];
  return {
    objectType: 'REPORT',
    programID: event.programID,
    eventID: eventId,
    clientName: o.venName,
    reportName: `gridkeeper ${o.venName} ${eventId} ${iso(o.now)}`,
    payloadDescriptors: [
      ...types.map((t) => ({
        objectType: 'REPORT_PAYLOAD_DESCRIPTOR',
        payloadType: t,
        readingType: 'DIRECT_READ',
        units: t === 'USAGE' ? 'KWH' : 'KW',
      })),
      ...(notMet.length > 0 ? [{ objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: NOT_MET }] : []),
    ],
    resources,
  };
}
