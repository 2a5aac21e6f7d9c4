import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1. Used where the port must be known before the
 * listener exists (a config file for `gridkeeper run`, modbus-serial's
 * ServerTCP which does not report the port it bound for 0).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
