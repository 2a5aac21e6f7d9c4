import { SIM_QUANTITIES, type SimDeviceMap } from './device-map.js';
import alfen from './maps/alfen-eve.json' with { type: 'json' };
import sdm630 from './maps/eastron-sdm630.json' with { type: 'json' };
import keba from './maps/keba-p30.json' with { type: 'json' };
import quasar from './maps/wallbox-quasar.json' with { type: 'json' };
import { SIM_REGISTER_TYPES } from './registers.js';

const TYPES: ReadonlySet<string> = new Set(SIM_REGISTER_TYPES);
const QUANTITIES: ReadonlySet<string> = new Set(SIM_QUANTITIES);

/**
 * Register maps of the simulated meters and chargers, keyed by the name of
 * the gateway profile that should read them, so the catalogue test can pair
 * each profile with an independently written device.
 */
export const SIM_DEVICE_MAPS: ReadonlyMap<string, SimDeviceMap> = new Map(
  Object.entries({ 'eastron-sdm630': sdm630, 'alfen-eve': alfen, 'keba-p30': keba, 'wallbox-quasar': quasar }).map(
    ([name, json]) => [name, checked(name, json)],
  ),
);

/** A map by name, or the map itself. */
export function simDeviceMap(device: string | SimDeviceMap): SimDeviceMap {
  if (typeof device !== 'string') return device;
  const map = SIM_DEVICE_MAPS.get(device);
  if (!map)
    throw new Error(`no simulated Modbus device "${device}" (known: ${[...SIM_DEVICE_MAPS.keys()].join(', ')})`);
  return map;
}

/** JSON is typed loosely; a typo in a map fails at load, naming the file and point. */
function checked(name: string, json: object): SimDeviceMap {
  const map = json as SimDeviceMap;
  if (map.table !== 'holding' && map.table !== 'input') throw new Error(`maps/${name}.json: table ${map.table}`);
  for (const p of map.points) {
    if (!TYPES.has(p.type)) throw new Error(`maps/${name}.json: ${p.name}: unknown type ${p.type}`);
    if (!QUANTITIES.has(p.quantity)) throw new Error(`maps/${name}.json: ${p.name}: unknown quantity ${p.quantity}`);
  }
  return map;
}
