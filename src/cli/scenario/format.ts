import type { ScenarioResult } from './run.js';
import type { ControllerKpis } from './result.js';

/** Human-readable table of a scenario result. */
export function formatScenarioTable(r: ScenarioResult): string {
  const cols: Array<[string, (c: ControllerKpis) => string]> = [
    ['controller', (c) => c.name],
    ['over limit s (judged)', (c) => String(c.overLimitJudgedS)],
    ['lag s (raw)', (c) => String(c.overLimitLagS)],
    ['peak kW', (c) => c.peakImportKw.toFixed(1)],
    ['delivered kWh', (c) => c.deliveredKwh.toFixed(1)],
    ['deadlines', (c) => String(c.deadlinesTotal)],
    ['feasible', (c) => String(c.deadlinesFeasible)],
    ['missed', (c) => String(c.deadlinesMissed)],
    ['short kWh', (c) => c.energyShortfallKwh.toFixed(1)],
    ['solar self %', (c) => c.solarSelfConsumptionPct.toFixed(1)],
    ['cost EUR', (c) => c.costEur.toFixed(2)],
  ];
  if (r.controllers.some((c) => c.dr)) {
    cols.push(
      ['DR compliance %', (c) => (c.dr ? c.dr.compliancePct.toFixed(1) : '-')],
      [
        'DR response p50/p99 s',
        (c) => (c.dr ? `${c.dr.responseS.p50 ?? 'fail'}/${c.dr.responseS.p99 ?? 'fail'}` : '-'),
      ],
      ['DR failures', (c) => (c.dr ? String(c.dr.failures) : '-')],
    );
  }
  const rows = [cols.map(([h]) => h), ...r.controllers.map((c) => cols.map(([, f]) => f(c)))];
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => (row[i] as string).length)));
  const line = (row: string[]) =>
    row.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  const d = r.vehicles.responseDelayMs;
  const limitLines = r.controllers.flatMap((c) =>
    Object.entries(c.limits)
      .filter(([, l]) => l.judgedS > 0 || l.lagS > 0)
      .map(([n, l]) => `  ${c.name}: ${n} (limit ${l.limit}, peak ${l.peak}): ${l.judgedS} s judged, ${l.lagS} s lag`),
  );
  return [
    `scenario ${r.scenario} (seed ${r.seed}, ${r.simulatedHours} h simulated in ${(r.wallMs / 1000).toFixed(1)} s)`,
    ...(r.note ? [`window: ${r.note}`] : []),
    `vehicles: ${r.vehicles.count}, response delay ${d.min}/${d.p50}/${d.max} ms (min/p50/max), ` +
      `${r.vehicles.overdrawing} draw above their set-point, ${r.vehicles.stopBelow8A} stop below 8 A`,
    '',
    line(rows[0] as string[]),
    ...rows.slice(1).map((row) => line(row)),
    ...(limitLines.length > 0 ? ['', 'limits exceeded:', ...limitLines] : []),
  ].join('\n');
}
