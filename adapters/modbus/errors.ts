/**
 * Errors of the Modbus layer. Each carries enough to tell an installer what
 * is wrong on the wire: a device that answers with an exception is alive but
 * refuses (wrong register map), a timeout means nobody answered.
 */

/** Modbus exception codes (Modbus Application Protocol v1.1b3, 7). */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

export class ModbusError extends Error {
  /** Short label used as the `code` label of the error metric. */
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'ModbusError';
    this.code = code;
  }
}

/** The device answered with a Modbus exception response. */
export class ModbusExceptionError extends ModbusError {
  readonly exceptionCode: number;
  constructor(exceptionCode: number, what: string) {
    const name = EXCEPTION_NAMES[exceptionCode] ?? 'unknown exception';
    super(`${what}: Modbus exception ${exceptionCode} (${name})`, `exception_${exceptionCode}`);
    this.name = 'ModbusExceptionError';
    this.exceptionCode = exceptionCode;
  }
}

/** No answer within the request timeout. */
export class ModbusTimeoutError extends ModbusError {
  constructor(what: string, timeoutMs: number) {
    super(`${what}: no response within ${timeoutMs} ms`, 'timeout');
    this.name = 'ModbusTimeoutError';
  }
}

/** The link is not connected (refused, reset, not yet reconnected). */
export class ModbusConnectionError extends ModbusError {
  constructor(message: string) {
    super(message, 'connection');
    this.name = 'ModbusConnectionError';
  }
}

/** A written set-point did not read back as written. */
export class ModbusConfirmError extends ModbusError {
  constructor(message: string) {
    super(message, 'confirm');
    this.name = 'ModbusConfirmError';
  }
}

export function errorCode(err: unknown): string {
  return err instanceof ModbusError ? err.code : 'other';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
