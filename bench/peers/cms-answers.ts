import type { Json } from './ocpp-wire.js';

const now = () => new Date().toISOString();

/**
 * What a plain OCPP 1.6J central system answers to a charger's call; the
 * transaction id comes from the caller, which decides how ids are issued
 * (a counter, or one id per StartTransaction message id). `undefined` for an
 * action it does not implement.
 */
export function answerCall16(action: string, payload: Json, startTransaction: () => number): Json | undefined {
  switch (action) {
    case 'BootNotification':
      return { status: 'Accepted', currentTime: now(), interval: 60 };
    case 'Heartbeat':
      return { currentTime: now() };
    case 'Authorize':
      return { idTagInfo: { status: 'Accepted' } };
    case 'StartTransaction':
      return { transactionId: startTransaction(), idTagInfo: { status: 'Accepted' } };
    case 'StopTransaction':
      return (payload as { idTag?: unknown }).idTag ? { idTagInfo: { status: 'Accepted' } } : {};
    case 'DataTransfer':
      return { status: 'Accepted' };
    case 'MeterValues':
    case 'StatusNotification':
    case 'DiagnosticsStatusNotification':
    case 'FirmwareStatusNotification':
      return {};
    default:
      return undefined;
  }
}
