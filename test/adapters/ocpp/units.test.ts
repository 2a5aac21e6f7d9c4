import { describe, expect, it } from 'vitest';
import { parseChargingNeeds, parseMeterValues } from '../../../adapters/ocpp/messages.js';
import { cmsCapA, gatewayProfile } from '../../../adapters/ocpp/profiles.js';
import { actionsOf } from '../../../adapters/ocpp/rpc/protocol.js';
import { strictValidators } from '../../../adapters/ocpp/rpc/validators.js';

const sp = { evseId: 'CP/2', currentA: 10, powerW: 6900, phases: 3 as const, reasons: [] };

describe('OCPP helpers', () => {
  it('knows the actions of every subprotocol', () => {
    for (const p of ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'] as const) {
      expect(actionsOf(p)).toContain('BootNotification');
      expect(actionsOf(p)).toContain('SetChargingProfile');
    }
    expect(actionsOf('ocpp1.6')).toContain('StartTransaction');
    expect(actionsOf('ocpp2.0.1')).toContain('TransactionEvent');
    expect(actionsOf('ocpp2.1')).toContain('NotifyEVChargingNeeds');
    expect(actionsOf('ocpp2.1')).not.toContain('NotifyPeriodicEventStream');
  });

  it('validates 2.1 strictly with the re-keyed OCA schemas', () => {
    const [v21] = strictValidators();
    expect(v21?.subprotocol).toBe('ocpp2.1');
    expect(() => v21?.validate('urn:Heartbeat.req', {})).not.toThrow();
    expect(() => v21?.validate('urn:BootNotification.req', { reason: 'Nope', chargingStation: {} })).toThrow();
  });

  it('parses 1.6 and 2.x meter values into W, A and Wh', () => {
    expect(
      parseMeterValues('ocpp1.6', [
        {
          timestamp: 't',
          sampledValue: [
            { value: '7.2', measurand: 'Power.Active.Import', unit: 'kW' },
            { value: '10.5', measurand: 'Current.Import', phase: 'L2' },
            { value: '12.5', unit: 'kWh' },
          ],
        },
      ]),
    ).toEqual({ powerW: 7200, currentsA: [0, 10.5, 0], energyWh: 12_500 });
    expect(
      parseMeterValues('ocpp2.0.1', [
        {
          timestamp: 't',
          sampledValue: [
            { value: 0, measurand: 'Power.Active.Import' },
            { value: 5, measurand: 'Power.Active.Export', unitOfMeasure: { unit: 'W', multiplier: 3 } },
          ],
        },
      ]),
    ).toEqual({ powerW: -5000 });
  });

  it('builds a per-connector TxDefaultProfile for multi-connector 1.6 chargers and merges a CMS cap', () => {
    const call = gatewayProfile(sp, {
      protocol: 'ocpp1.6',
      connectors: 2,
      connectorId: 2,
      stackLevel: 9,
      profileId: 900_000,
      now: 0,
      capA: 8,
    });
    expect(call.payload).toMatchObject({
      connectorId: 2,
      csChargingProfiles: {
        chargingProfileId: 900_002,
        chargingProfilePurpose: 'TxDefaultProfile',
        chargingSchedule: { chargingSchedulePeriod: [{ limit: 8 }] },
      },
    });
  });

  it('reads the CMS limit in force now, converting W to A', () => {
    const payload = {
      evseId: 0,
      chargingProfile: {
        chargingSchedule: [
          {
            startSchedule: '2026-01-01T00:00:00Z',
            chargingRateUnit: 'W',
            chargingSchedulePeriod: [
              { startPeriod: 0, limit: 22_080 },
              { startPeriod: 3600, limit: 6900 },
            ],
          },
        ],
      },
    };
    expect(cmsCapA('ocpp2.0.1', payload, Date.UTC(2026, 0, 1, 0, 30), 3, 230)).toBeCloseTo(32);
    expect(cmsCapA('ocpp2.0.1', payload, Date.UTC(2026, 0, 1, 2), 3, 230)).toBeCloseTo(10);
  });

  it('turns NotifyEVChargingNeeds into the needs the fleet inputs get', () => {
    const n = parseChargingNeeds(
      'C',
      'C/1',
      {
        evseId: 1,
        chargingNeeds: {
          requestedEnergyTransfer: 'DC_BPT',
          departureTime: '2026-01-01T16:00:00Z',
          dcChargingParameters: { evMaxCurrent: 100, evMaxVoltage: 400, energyAmount: 30_000 },
          v2xChargingParameters: { maxDischargePower: -11_000 },
        },
      },
      0,
    );
    expect(n).toMatchObject({
      dischargeAllowed: true,
      energyWh: 30_000,
      maxDischargeW: 11_000,
      departureAt: Date.UTC(2026, 0, 1, 16),
    });
  });
});

describe('NotifyEVChargingNeeds, the one parser', () => {
  it('allows discharge only for a bidirectional transfer mode, and takes a V2X energy target', () => {
    // V2X parameters alone (scheduled charging, no BPT mode) do not mean the vehicle may feed in.
    const scheduled = parseChargingNeeds(
      'C',
      'C/1',
      {
        evseId: 1,
        chargingNeeds: {
          requestedEnergyTransfer: 'AC_three_phase',
          v2xChargingParameters: { evTargetEnergyRequest: 12_000 },
        },
      },
      0,
    );
    expect(scheduled).toMatchObject({ dischargeAllowed: false, energyWh: 12_000 });
    const der = parseChargingNeeds(
      'C',
      'C/1',
      { evseId: 1, chargingNeeds: { requestedEnergyTransfer: 'AC_BPT_DER' } },
      0,
    );
    expect(der.dischargeAllowed).toBe(true);
  });
});

describe('ocpp config section', () => {
  it('reports security settings that cannot work, with their path', async () => {
    const { validateConfig } = await import('../../../src/config/load.js');
    const r = validateConfig(
      {
        site: { id: 's', limitW: 1000, failsafeLimitW: 100 },
        ocpp: { securityProfile: 2, upstream: { url: 'wss://cms.example/ocpp', clientCert: 'c.pem' } },
      },
      {},
    );
    expect(r.ok).toBe(false);
    const paths = r.ok ? [] : r.errors.map((e) => e.path);
    expect(paths).toContain('ocpp.tls');
    expect(paths).toContain('ocpp.upstream.clientKey');
  });
});

describe('unknown chargers', () => {
  it('get exactly the defaults the config schema gives a charger entry with only its id', async () => {
    const { unknownChargerSpec } = await import('../../../adapters/ocpp/charger-spec.js');
    const { ChargerSchema } = await import('../../../src/config/sections/site.js');
    expect(unknownChargerSpec('CP-X')).toEqual(ChargerSchema.parse({ id: 'CP-X' }));
  });
});
