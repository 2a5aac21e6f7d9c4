import type { Activity } from './activity.js';
import type { ScenarioVehicle } from './types.js';

/**
 * The operator's fleet tool: before the night it tells the controller, over
 * the controller's own HTTP API, which vehicle (by its id tag) must have
 * how much energy by when. It knows the plan, never the vehicle's physics.
 */
export async function sendFleetPlan(
  apiUrl: string,
  apiKey: string,
  vehicles: readonly ScenarioVehicle[],
  activity?: Activity,
): Promise<void> {
  for (const v of vehicles) {
    if (v.neededWh === undefined) continue;
    activity?.bump();
    const res = await fetch(`${apiUrl.replace(/\/+$/, '')}/api/v1/vehicles/${encodeURIComponent(v.id)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        idTags: [v.idTag],
        batteryCapacityWh: v.capacityWh,
        phases: v.phases,
        needs: { departureAt: v.departAt, energyNeededWh: v.neededWh },
      }),
    });
    if (!res.ok) throw new Error(`fleet plan for ${v.id}: HTTP ${res.status} ${await res.text()}`);
  }
}
