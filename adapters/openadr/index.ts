export { addDuration, durationMs, eventToSignals, resolveIntervals, targetsUs } from './events.js';
export { OadrClient, OadrHttpError } from './client.js';
export * from './schemas.js';
export {
  buildReport,
  createOpenAdrVen,
  createOpenAdrVen as createOpenAdrAdapter,
  type OpenAdrVen,
  type OpenAdrVenDeps,
  type VenMeasurements,
  type VenStatus,
} from './ven.js';
