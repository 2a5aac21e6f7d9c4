import { describe, expect, it } from 'vitest';
import { buildReport, NOT_MET } from '../../../adapters/openadr/report.js';
import type { OadrEvent } from '../../../adapters/openadr/schemas.js';

const event = { programID: 'p1', intervals: [] } as unknown as OadrEvent;
const o = { since: 0, now: 60_000, venName: 'ven', resourceNames: [] };

describe('OpenADR report of a limit the site does not meet', () => {
  it('carries the not-met payload with the reason for the event behind the limit', () => {
    const r = buildReport(
      event,
      'ev-1',
      {
        siteW: 31_000,
        limit: { ts: 1, met: false, source: 'openadr', eventId: 'ev-1', importLimitW: 19_700, why: 'not met: x' },
      },
      o,
    );
    const payloads = r.resources?.[0]?.intervals?.[0]?.payloads ?? [];
    expect(payloads).toContainEqual({ type: NOT_MET, values: ['not met: x'] });
    expect(payloads).toContainEqual({ type: 'DEMAND', values: [31] });
    expect(r.payloadDescriptors?.map((d) => d.payloadType)).toContain(NOT_MET);
  });

  it('says nothing of the kind when the limit is met, or for another OpenADR event', () => {
    const met = buildReport(
      event,
      'ev-1',
      { siteW: 19_000, limit: { ts: 1, met: true, source: 'openadr', eventId: 'ev-1' } },
      o,
    );
    expect(JSON.stringify(met)).not.toContain(NOT_MET);
    const other = buildReport(
      event,
      'ev-2',
      { siteW: 31_000, limit: { ts: 1, met: false, source: 'openadr', eventId: 'ev-1', why: 'x' } },
      o,
    );
    expect(JSON.stringify(other)).not.toContain(NOT_MET);
  });
});
