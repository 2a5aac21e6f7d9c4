import type { createVtnSim } from '../sim/utility/vtn.js';

type VtnClock = Parameters<typeof createVtnSim>[0]['clock'];
type Handle = ReturnType<VtnClock['setTimeout']>;

/** The utility's own wall clock (Node timers): the VTN simulator is the bench's, not the gateway's. */
export const vtnWallClock: VtnClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as Handle,
  clearTimeout: (h) => clearTimeout(h as unknown as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms) as unknown as Handle,
  clearInterval: (h) => clearInterval(h as unknown as NodeJS.Timeout),
};
