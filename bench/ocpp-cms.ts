/**
 * The CMS sim in its own process for `bench/ocpp.ts`, so the direct and the
 * proxied path both cross processes and the comparison is fair.
 * IPC: sends `{ type: 'ready', url }`.
 */
import { SystemClock } from '../src/model/clock.js';
import { CmsSim } from '../sim/cloud/cms.js';

const cms = new CmsSim({ clock: new SystemClock() });
await cms.start();
// Records are for tests; a long benchmark must not grow memory without bound.
setInterval(() => {
  cms.records.length = 0;
}, 1000);
process.send?.({ type: 'ready', url: cms.url });
