import type { SimCharger } from './charger.js';
import { readProfile } from './profiles.js';
import { type Json, OcppCallError } from './wire.js';

const MAX_PURPOSES = new Set(['ChargePointMaxProfile', 'ChargingStationMaxProfile']);

/**
 * What the charger answers to a call from its central system (gateway or
 * CMS), and what it does about it. Actions a charger of this kind does not
 * implement get the CALLERROR NotImplemented, as a real one answers.
 */
export async function handleCall(ch: SimCharger, action: string, p: Json): Promise<Json> {
  const later = (fn: () => void) => ch.opts.clock.setTimeout(fn, 0);
  switch (action) {
    case 'SetChargingProfile':
      return setProfile(ch, p);
    case 'ClearChargingProfile':
      return clearProfile(ch, p);
    case 'RemoteStartTransaction':
    case 'RequestStartTransaction': {
      const connectorId = ((ch.v16 ? p.connectorId : p.evseId) as number | undefined) ?? 1;
      const c = ch.connectors.find((x) => x.id === connectorId);
      if (!c?.vehicle || c.txId !== undefined) return { status: 'Rejected' };
      c.idTag = ch.v16 ? String(p.idTag) : String((p.idToken as Json | undefined)?.idToken);
      later(() => void ch.startTransaction(c));
      return { status: 'Accepted' };
    }
    case 'RemoteStopTransaction':
    case 'RequestStopTransaction': {
      const c = ch.connectors.find((x) => x.txId !== undefined && String(x.txId) === String(p.transactionId));
      if (!c) return { status: 'Rejected' };
      later(() => void ch.unplug(c.id, 'Remote'));
      return { status: 'Accepted' };
    }
    case 'ChangeConfiguration': {
      const status = ch.config.change(String(p.key), String(p.value));
      ch.applySampling();
      return { status };
    }
    case 'GetConfiguration':
      return ch.config.get(p.key as string[] | undefined);
    case 'SetVariables': {
      const res = ch.config.setVariables((p.setVariableData as Json[] | undefined) ?? []);
      ch.applySampling();
      return res;
    }
    case 'GetVariables':
      return ch.config.getVariables((p.getVariableData as Json[] | undefined) ?? []);
    case 'TriggerMessage':
      return trigger(ch, p, later);
    case 'ChangeAvailability':
    case 'Reset':
    case 'ClearCache':
    case 'DataTransfer':
      return { status: 'Accepted' };
    case 'UnlockConnector':
      return { status: 'Unlocked' };
    default:
      throw new OcppCallError('NotImplemented', `${action} is not implemented by this charger`);
  }
}

function setProfile(ch: SimCharger, p: Json): Json {
  const profile = readProfile(ch.opts.protocol, p, ch.opts.clock.now());
  if (!profile) throw new OcppCallError(ch.v16 ? 'FormationViolation' : 'FormatViolation', 'no charging schedule');
  const rejected = { status: 'Rejected' };
  // The max profile limits the whole charger: only on connector / EVSE 0 (1.6 §5.16.1, 2.0.1 K01.FR.38).
  if (MAX_PURPOSES.has(profile.purpose) && profile.connectorId !== 0) return rejected;
  if (profile.purpose === 'TxProfile') {
    // A TxProfile needs a running transaction on its connector (1.6 §3.13.3, 2.0.1 K01.FR.09).
    const c = ch.connectors.find((x) => x.id === profile.connectorId);
    if (c?.txId === undefined) return rejected;
  }
  if (profile.setpointW !== undefined && profile.setpointW < 0 && !ch.opts.bidirectional) return rejected;
  ch.profileStore.put(profile);
  ch.applyProfiles();
  return { status: 'Accepted' };
}

function clearProfile(ch: SimCharger, p: Json): Json {
  const crit = (ch.v16 ? p : ((p.chargingProfileCriteria as Json | undefined) ?? {})) as Json;
  const num = (x: unknown) => (typeof x === 'number' ? x : undefined);
  const purpose = crit.chargingProfilePurpose;
  const removed = ch.profileStore.clear({
    ...(num(ch.v16 ? p.id : p.chargingProfileId) !== undefined ? { id: num(ch.v16 ? p.id : p.chargingProfileId) } : {}),
    ...(num(ch.v16 ? crit.connectorId : crit.evseId) !== undefined
      ? { connectorId: num(ch.v16 ? crit.connectorId : crit.evseId) }
      : {}),
    ...(typeof purpose === 'string' ? { purpose } : {}),
    ...(num(crit.stackLevel) !== undefined ? { stackLevel: num(crit.stackLevel) } : {}),
  });
  ch.applyProfiles();
  return { status: removed ? 'Accepted' : 'Unknown' };
}

function trigger(ch: SimCharger, p: Json, later: (fn: () => void) => void): Json {
  const what = String(p.requestedMessage);
  const connectorId = (ch.v16 ? p.connectorId : (p.evse as Json | undefined)?.id) as number | undefined;
  const targets = ch.connectors.filter((c) => connectorId === undefined || connectorId === 0 || c.id === connectorId);
  switch (what) {
    case 'MeterValues':
    case 'TransactionEvent':
      later(() => ch.sendMeterValues('Trigger', connectorId));
      break;
    case 'StatusNotification':
      later(() => {
        for (const c of targets) ch.sendStatus(c);
      });
      break;
    case 'Heartbeat':
      later(() => void ch.request('Heartbeat', {}));
      break;
    case 'BootNotification':
      later(() => void ch.request('BootNotification', ch.bootPayload()));
      break;
    default:
      return { status: 'NotImplemented' };
  }
  return { status: 'Accepted' };
}
