import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the Modbus adapter, registered on the gateway's own registry. */
export interface ModbusMetrics {
  readonly requests: Counter<'link' | 'fc'>;
  readonly errors: Counter<'link' | 'code'>;
  readonly latency: Histogram<'link'>;
  readonly online: Gauge<'device'>;
}

export function createModbusMetrics(registry: Registry): ModbusMetrics {
  // Re-use when a second adapter shares the registry (tests building two adapters).
  const existing = registry.getSingleMetric('gridkeeper_modbus_requests_total');
  if (existing) {
    return {
      requests: existing as Counter<'link' | 'fc'>,
      errors: registry.getSingleMetric('gridkeeper_modbus_errors_total') as Counter<'link' | 'code'>,
      latency: registry.getSingleMetric('gridkeeper_modbus_request_duration_seconds') as Histogram<'link'>,
      online: registry.getSingleMetric('gridkeeper_modbus_device_online') as Gauge<'device'>,
    };
  }
  return {
    requests: new Counter({
      name: 'gridkeeper_modbus_requests_total',
      help: 'Modbus requests sent, by link and function code.',
      labelNames: ['link', 'fc'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'gridkeeper_modbus_errors_total',
      help: 'Failed Modbus requests by link and error code (timeout, connection, exception_<n>, confirm).',
      labelNames: ['link', 'code'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'gridkeeper_modbus_request_duration_seconds',
      help: 'Modbus request round-trip time.',
      labelNames: ['link'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    online: new Gauge({
      name: 'gridkeeper_modbus_device_online',
      help: '1 while the Modbus device answers, 0 while it is offline.',
      labelNames: ['device'],
      registers: [registry],
    }),
  };
}
