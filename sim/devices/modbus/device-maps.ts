import { SIM_QUANTITIES, type SimDeviceMap } from './device-map.js';
import abbB23 from './maps/abb-b23.json' with { type: 'json' };
import abbTerraAc from './maps/abb-terra-ac.json' with { type: 'json' };
import alfenEve from './maps/alfen-eve.json' with { type: 'json' };
import beMpm3pm from './maps/be-mpm3pm.json' with { type: 'json' };
import carlogavazziEm24 from './maps/carlogavazzi-em24.json' with { type: 'json' };
import carlogavazziEm340 from './maps/carlogavazzi-em340.json' with { type: 'json' };
import eastronSdm120 from './maps/eastron-sdm120.json' with { type: 'json' };
import eastronSdm220 from './maps/eastron-sdm220.json' with { type: 'json' };
import eastronSdm230 from './maps/eastron-sdm230.json' with { type: 'json' };
import eastronSdm54 from './maps/eastron-sdm54.json' with { type: 'json' };
import eastronSdm630 from './maps/eastron-sdm630.json' with { type: 'json' };
import eastronSdm72 from './maps/eastron-sdm72.json' with { type: 'json' };
import eastronSdm72dmV2 from './maps/eastron-sdm72dm-v2.json' with { type: 'json' };
import eltakoDsz15dm from './maps/eltako-dsz15dm.json' with { type: 'json' };
import finder7m38 from './maps/finder-7m38.json' with { type: 'json' };
import huaweiSun2000Battery from './maps/huawei-sun2000-battery.json' with { type: 'json' };
import huaweiSun2000Grid from './maps/huawei-sun2000-grid.json' with { type: 'json' };
import huaweiSun2000Pv from './maps/huawei-sun2000-pv.json' with { type: 'json' };
import ineproPro380 from './maps/inepro-pro380.json' with { type: 'json' };
import janitzaB23 from './maps/janitza-b23.json' with { type: 'json' };
import janitzaUmg604 from './maps/janitza-umg604.json' with { type: 'json' };
import kebaP30 from './maps/keba-p30.json' with { type: 'json' };
import lovatoDmg610 from './maps/lovato-dmg610.json' with { type: 'json' };
import mennekesAmtronProfessional from './maps/mennekes-amtron-professional.json' with { type: 'json' };
import ornoWe516 from './maps/orno-we516.json' with { type: 'json' };
import schneiderIem3000 from './maps/schneider-iem3000.json' with { type: 'json' };
import siemensPac2200 from './maps/siemens-pac2200.json' with { type: 'json' };
import sungrowSgGrid from './maps/sungrow-sg-grid.json' with { type: 'json' };
import sungrowSgPv from './maps/sungrow-sg-pv.json' with { type: 'json' };
import sungrowShGrid from './maps/sungrow-sh-grid.json' with { type: 'json' };
import sungrowShPv from './maps/sungrow-sh-pv.json' with { type: 'json' };
import victronGxBattery from './maps/victron-gx-battery.json' with { type: 'json' };
import wago87930xx from './maps/wago-879-30xx.json' with { type: 'json' };
import wallboxQuasar from './maps/wallbox-quasar.json' with { type: 'json' };
import { SIM_REGISTER_TYPES } from './registers.js';

const TYPES: ReadonlySet<string> = new Set(SIM_REGISTER_TYPES);
const QUANTITIES: ReadonlySet<string> = new Set(SIM_QUANTITIES);

/**
 * Register maps of the simulated meters and chargers, keyed by the name of
 * the gateway profile that should read them, so the catalogue test can pair
 * each profile with an independently written device.
 */
export const SIM_DEVICE_MAPS: ReadonlyMap<string, SimDeviceMap> = new Map(
  Object.entries({
    'abb-b23': abbB23,
    'abb-terra-ac': abbTerraAc,
    'alfen-eve': alfenEve,
    'be-mpm3pm': beMpm3pm,
    'carlogavazzi-em24': carlogavazziEm24,
    'carlogavazzi-em340': carlogavazziEm340,
    'eastron-sdm120': eastronSdm120,
    'eastron-sdm220': eastronSdm220,
    'eastron-sdm230': eastronSdm230,
    'eastron-sdm54': eastronSdm54,
    'eastron-sdm630': eastronSdm630,
    'eastron-sdm72': eastronSdm72,
    'eastron-sdm72dm-v2': eastronSdm72dmV2,
    'eltako-dsz15dm': eltakoDsz15dm,
    'finder-7m38': finder7m38,
    'huawei-sun2000-battery': huaweiSun2000Battery,
    'huawei-sun2000-grid': huaweiSun2000Grid,
    'huawei-sun2000-pv': huaweiSun2000Pv,
    'inepro-pro380': ineproPro380,
    'janitza-b23': janitzaB23,
    'janitza-umg604': janitzaUmg604,
    'keba-p30': kebaP30,
    'lovato-dmg610': lovatoDmg610,
    'mennekes-amtron-professional': mennekesAmtronProfessional,
    'orno-we516': ornoWe516,
    'schneider-iem3000': schneiderIem3000,
    'siemens-pac2200': siemensPac2200,
    'sungrow-sg-grid': sungrowSgGrid,
    'sungrow-sg-pv': sungrowSgPv,
    'sungrow-sh-grid': sungrowShGrid,
    'sungrow-sh-pv': sungrowShPv,
    'victron-gx-battery': victronGxBattery,
    'wago-879-30xx': wago87930xx,
    'wallbox-quasar': wallboxQuasar,
  }).map(([name, json]) => [name, checked(name, json)]),
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
