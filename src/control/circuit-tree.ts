import { type PhaseRotation, type PhaseValues, ROTATION } from '../model/site.js';

/**
 * The electrical tree of a site: the grid connection (`site`) at the root,
 * feeders and sub-distributions below it, chargers hanging off any node.
 * Every node is budgeted per phase in *site* phase order.
 */
export interface CircuitNode {
  readonly id: string;
  /** Undefined only for the root (`site`). */
  readonly parentId?: string;
  /** Per-phase limit in site phase order (fuse / cable), A; Infinity when unlimited. */
  readonly maxPhaseCurrentsA: PhaseValues;
  /** Optional total active-power limit of the node, W. */
  readonly maxPowerW?: number;
  /** Depth below the root (root = 0). */
  readonly depth: number;
}

export interface CircuitTree {
  readonly root: string;
  readonly nodes: ReadonlyMap<string, CircuitNode>;
  /** Node ids from a node up to and including the root. */
  pathOf(nodeId: string): readonly string[];
}

export interface CircuitTreeSource {
  /** Per-phase main fuse of the grid connection, A. */
  readonly fuseA?: number;
  /** Optional total power limit of the connection itself (not the contract; that is a policy), W. */
  readonly connectionMaxPowerW?: number;
  readonly circuits: ReadonlyArray<{
    readonly id: string;
    readonly parent: string;
    readonly maxCurrentA: number;
    readonly maxPowerW?: number | undefined;
  }>;
}

export const ROOT = 'site';

/**
 * Build the tree from the `site` config section. Unknown parents and cycles
 * are refused here as well as in the config schema, because a silently
 * detached node would be an unbudgeted node.
 */
export function buildCircuitTree(src: CircuitTreeSource): CircuitTree {
  const inf = Number.POSITIVE_INFINITY;
  const fuse = src.fuseA ?? inf;
  const byId = new Map(src.circuits.map((c) => [c.id, c]));
  const nodes = new Map<string, CircuitNode>();
  nodes.set(ROOT, {
    id: ROOT,
    maxPhaseCurrentsA: [fuse, fuse, fuse],
    ...(src.connectionMaxPowerW !== undefined ? { maxPowerW: src.connectionMaxPowerW } : {}),
    depth: 0,
  });
  const depthOf = (id: string, seen: Set<string>): number => {
    if (id === ROOT) return 0;
    const c = byId.get(id);
    if (!c) throw new Error(`circuit "${id}" is not defined`);
    if (seen.has(id)) throw new Error(`circuit "${id}" is part of a cycle`);
    seen.add(id);
    return 1 + depthOf(c.parent, seen);
  };
  for (const c of src.circuits) {
    if (c.id === ROOT) throw new Error('"site" is reserved for the grid connection');
    nodes.set(c.id, {
      id: c.id,
      parentId: c.parent,
      maxPhaseCurrentsA: [c.maxCurrentA, c.maxCurrentA, c.maxCurrentA],
      ...(c.maxPowerW !== undefined ? { maxPowerW: c.maxPowerW } : {}),
      depth: depthOf(c.id, new Set()),
    });
  }
  const paths = new Map<string, string[]>();
  const pathOf = (nodeId: string): readonly string[] => {
    const id = nodes.has(nodeId) ? nodeId : ROOT;
    let p = paths.get(id);
    if (!p) {
      p = [];
      let cur: string | undefined = id;
      while (cur !== undefined) {
        p.push(cur);
        cur = nodes.get(cur)?.parentId;
      }
      paths.set(id, p);
    }
    return p;
  };
  return { root: ROOT, nodes, pathOf };
}

/**
 * Which site phases a vehicle loads: a 1-phase vehicle draws on the
 * charger's L1 terminal, which the rotation maps to some site phase.
 */
type Mask = readonly [boolean, boolean, boolean];
const ALL: Mask = [true, true, true];
const ONE: readonly Mask[] = [
  [true, false, false],
  [false, true, false],
  [false, false, true],
];

export function siteMask(rotation: PhaseRotation, phases: 1 | 3): Mask {
  return phases === 3 ? ALL : (ONE[ROTATION[rotation][0]] as Mask);
}

/** Measured currents in charger terminal order mapped onto site phases. */
export function toSitePhases(currents: PhaseValues, rotation: PhaseRotation): [number, number, number] {
  const idx = ROTATION[rotation];
  const out: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    const j = idx[i] as number;
    out[j] = (out[j] as number) + (currents[i] as number);
  }
  return out;
}
