import type { Decision, Limit, Reason } from '../src/model/decision.js';
import type { ActiveGridSignal, GridSignalsInput } from '../src/model/grid-signals.js';
import { isFresh } from '../src/model/reading.js';
import type { SiteSnapshot } from '../src/model/site.js';

export type { ActiveGridSignal, GridSignalsInput } from '../src/model/grid-signals.js';

export const EMPTY_GRID_INPUT: GridSignalsInput = {
  importLimits: [],
  exportLimits: [],
  siteLimitW: Number.POSITIVE_INFINITY,
  marginW: 0,
  section14aMinW: 4200,
  staleAfterMs: 10_000,
  simpleLevelFactors: [1, 0.75, 0.5, 0],
};

interface Cap {
  readonly importW?: number;
  readonly exportW?: number;
  readonly text: string;
  /** §14a control signal: limits the controllable devices' grid draw, not the site's. */
  readonly section14a?: boolean;
}

/**
 * Grid-operator tier: turn the active DR signals into import and export
 * caps for every controllable load (chargers and battery), net of what the
 * non-controllable loads take, measured at the grid meter. Most restrictive
 * wins across signals, and no signal raises the site above its contract or
 * fuse (such a signal is clamped and the reason says so). Only a signal
 * marked §14a keeps the §14a minimum grid draw for the controllable devices;
 * a limit the site cannot meet says so in its reason.
 * One limit per signal so the arbiter keeps the binding one and shows the
 * others; each reason names the event behind it.
 */
export function decide(snapshot: SiteSnapshot, input: GridSignalsInput, now: number): Decision {
  const caps = capsOf(input);
  if (caps.length === 0) return { limits: [], requests: [] };

  const grid = snapshot.grid.powerW;
  const meterOk = grid !== undefined && !snapshot.stale.includes('grid.powerW');
  let evseW = 0;
  for (const e of snapshot.evses) {
    if (e.powerW && isFresh(e.powerW, now, input.staleAfterMs)) evseW += e.powerW.value;
  }
  const battery = snapshot.battery.powerW;
  const batteryW =
    input.batteryId !== undefined && battery && isFresh(battery, now, input.staleAfterMs) ? battery.value : 0;
  // Without a fresh meter the other loads are unknown; the failsafe (safety tier) takes over, we only keep the raw caps.
  const otherW = meterOk ? (input.otherLoadW ?? grid.value - evseW - batteryW) : 0;
  // What on-site generation leaves over after the other loads (W >= 0): a §14a limit caps grid draw, PV adds to it.
  const surplusW = Math.max(0, -otherW);

  const limits: Limit[] = [];
  const reason = (text: string): Reason => ({ policy: 'grid-signals', tier: 'grid', text });
  for (const cap of caps) {
    if (!cap.section14a) {
      limits.push({
        scope: 'site',
        ...(cap.importW !== undefined ? { maxImportW: cap.importW } : {}),
        ...(cap.exportW !== undefined ? { maxExportW: cap.exportW } : {}),
        reason: reason(cap.text),
      });
    }
    let evseImport: number | undefined;
    let evseText = cap.text;
    let budgetW = 0;
    if (cap.importW !== undefined && cap.section14a) {
      budgetW = cap.importW - input.marginW + surplusW;
      evseImport = Math.max(0, budgetW);
      evseText = `${cap.text}, grid draw of the controllable devices${surplusW > 0 ? ` plus ${kw(surplusW)} PV surplus` : ''} less ${kw(input.marginW)} margin leaves ${kw(evseImport)} for charging`;
    } else if (cap.importW !== undefined) {
      budgetW = cap.importW - input.marginW - otherW;
      evseImport = Math.max(0, budgetW);
      evseText = `${cap.text}, less ${kw(input.marginW)} margin and ${kw(otherW)} other load leaves ${kw(evseImport)} for charging`;
      if (budgetW < 0) evseText += `; cannot be met: the load the gateway does not control is ${kw(-budgetW)} above it`;
    }
    const evseExport = cap.exportW !== undefined ? Math.max(0, cap.exportW + otherW) : undefined;
    limits.push({
      scope: 'evses',
      ...(evseImport !== undefined ? { maxImportW: evseImport } : {}),
      ...(evseExport !== undefined ? { maxExportW: evseExport } : {}),
      reason: reason(evseText),
    });
    if (input.batteryId !== undefined) {
      // The battery may charge what the vehicles leave of the budget.
      const batteryImport = cap.importW !== undefined ? Math.max(0, budgetW - Math.max(0, evseW)) : undefined;
      limits.push({
        scope: `battery:${input.batteryId}`,
        ...(batteryImport !== undefined ? { maxImportW: batteryImport } : {}),
        ...(evseExport !== undefined ? { maxExportW: evseExport } : {}),
        reason: reason(batteryImport !== undefined ? `${cap.text}; battery may charge ${kw(batteryImport)}` : cap.text),
      });
    }
  }
  return { limits, requests: [] };
}

/**
 * The input with every import limit that will be active `leadMs` from now (`ahead`) applied already.
 * Vehicles follow a new limit 5–30 s late: a limit known in advance (day-ahead, or a short-notice
 * event announced minutes before) is met at the meter from its first second only if the vehicles are
 * told before it starts. A limit only tightens (most restrictive wins), so applying one early never
 * raises the site; a limit that ends is released at its end, not early.
 */
export function withLimitsAhead(current: GridSignalsInput, ahead: GridSignalsInput, leadMs: number): GridSignalsInput {
  const same = (a: ActiveGridSignal, b: ActiveGridSignal) =>
    a.source === b.source && a.eventId === b.eventId && a.value === b.value;
  const early = ahead.importLimits.filter((s) => !current.importLimits.some((c) => same(c, s)));
  if (early.length === 0) return current;
  const lead = `${Math.round(leadMs / 1000)} s`;
  return {
    ...current,
    importLimits: [
      ...current.importLimits,
      ...early.map((s) => ({
        ...s,
        label: `${s.label}, applied ${lead} before it starts so slow vehicles have followed`,
      })),
    ],
  };
}

/** Every active signal as a cap, clamped to the contract and the fuse, §14a signals held at their minimum. */
function capsOf(input: GridSignalsInput): Cap[] {
  const caps: Cap[] = [];
  const ceiling = Math.min(input.siteLimitW, input.fuseW ?? Number.POSITIVE_INFINITY);
  const ceilingName = (input.fuseW ?? Number.POSITIVE_INFINITY) < input.siteLimitW ? 'main fuse' : 'contract';
  const clampImport = (w: number, text: string, section14a?: boolean): Cap => {
    if (section14a && w < input.section14aMinW) {
      return {
        importW: Math.min(input.section14aMinW, ceiling),
        section14a,
        text: `${text} (§14a: held at the minimum ${kw(input.section14aMinW)} of the controllable devices; the ${kw(w)} asked cannot be met)`,
      };
    }
    if (w > ceiling) {
      return {
        importW: ceiling,
        ...(section14a ? { section14a } : {}),
        text: `${text} (above the ${kw(ceiling)} ${ceilingName}: clamped to it)`,
      };
    }
    return { importW: w, ...(section14a ? { section14a } : {}), text };
  };
  for (const s of input.importLimits)
    caps.push(clampImport(s.value, `import limit ${kw(s.value)} from ${s.label}`, s.section14a));
  for (const s of input.exportLimits)
    caps.push({ exportW: s.value, text: `export limit ${kw(s.value)} from ${s.label}` });
  if (input.setpoint) {
    const sp = input.setpoint;
    caps.push(clampImport(Math.max(0, sp.value), `dispatch set-point ${kw(sp.value)} from ${sp.label}`));
  }
  if (input.simple && input.simple.value > 0) {
    const level = Math.min(3, Math.max(0, Math.round(input.simple.value)));
    const factor = input.simpleLevelFactors[level] ?? 1;
    if (factor < 1 && Number.isFinite(input.siteLimitW)) {
      caps.push({
        importW: input.siteLimitW * factor,
        text: `SIMPLE level ${level} (${Math.round(factor * 100)} % of site limit) from ${input.simple.label}`,
      });
    }
  }
  if (input.fallback) {
    const fb = input.fallback;
    const cap = clampImport(fb.importLimitW, `fallback limit ${kw(fb.importLimitW)}: ${fb.why}`);
    caps.push({ ...cap, ...(fb.exportLimitW !== undefined ? { exportW: fb.exportLimitW } : {}) });
  }
  // Most restrictive first: the allocator keeps a limit of the same tier only where it tightens, so the
  // reason shown on a set-point is the signal that binds.
  const inf = Number.POSITIVE_INFINITY;
  return caps.sort((a, b) => (a.importW ?? inf) - (b.importW ?? inf) || (a.exportW ?? inf) - (b.exportW ?? inf));
}

function kw(w: number): string {
  return `${(w / 1000).toFixed(1)} kW`;
}
