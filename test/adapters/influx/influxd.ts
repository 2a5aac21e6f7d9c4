/**
 * The InfluxDB the tests run against is the bench's peer: one launcher of a
 * real influxd for both (it imports nothing of the gateway).
 */
export { INFLUXD, type Influxd, startInfluxd } from '../../../bench/peers/influxd.js';
