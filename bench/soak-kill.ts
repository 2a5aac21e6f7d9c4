/**
 * kill -9 soak (`npm run bench -- soak-kill`, issue 14 item 5): 20 OCPP 1.6J
 * chargers cycling sessions through `gridkeeper run` to a CMS, the CMS away
 * for 12 s in the middle, the gateway killed with SIGKILL 30 times and
 * restarted on the same data directory (bench/peers/kill-soak.ts). Reports
 * what the CMS's own record shows: lost messages, transaction ids it never
 * issued, duplicates under a new message id (a CMS cannot tell them apart)
 * and under the same one (a CMS can drop them). The targets are zero, the
 * same-id duplicates are counted only.
 *
 * A second, shorter soak has chargers that repeat an unanswered call under a
 * new message id (firmware that builds a new frame per attempt): only a
 * gateway that recognises a repeat by its content keeps those from reaching
 * the CMS twice.
 *
 * The gateway runs from `dist/` (it starts in ~3 s instead of ~9 s through
 * tsx), so this module builds the checkout first.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type KillSoakReport, runKillSoak } from './peers/kill-soak.js';
import type { BenchResult } from './types.js';

const ROOT = process.env.GK_BENCH_GATEWAY_ROOT ?? fileURLToPath(new URL('..', import.meta.url));

function notesOf(r: KillSoakReport): string {
  return [
    `${r.kills} SIGKILLs, ${r.chargers} chargers, CMS away ${r.outageMs / 1000} s, ${r.seconds} s`,
    `${r.acked} confirmed charger messages (${r.cmsReceived} receipts at the CMS), ${r.sessions} sessions, ${r.offlineSessions} started while the CMS was away`,
    r.unconfirmed + r.chargersNotIdle + r.chargerFailures.length > 0
      ? `run incomplete: ${r.unconfirmed} unconfirmed messages, ${r.chargersNotIdle} chargers not idle, failures: ${r.chargerFailures.join('; ')}`
      : '',
    r.duplicateNewId > 0 ? `new-id duplicates by action: ${JSON.stringify(r.duplicateNewIdByAction)}` : '',
    r.examples.slice(0, 6).join(' | '),
  ]
    .filter(Boolean)
    .join('; ');
}

function soak(opts: { seed: number; kills: number; retryWithNewId: boolean }): Promise<KillSoakReport> {
  return runKillSoak({
    root: ROOT,
    entry: 'dist',
    chargers: 20,
    ...opts,
    keep: process.env.GK_BENCH_KEEP === '1',
    log: process.env.GK_BENCH_DEBUG === '1' ? (line) => process.stderr.write(`soak-kill: ${line}\n`) : undefined,
  });
}

export async function run(): Promise<BenchResult[]> {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const r = await soak({ seed: 5, kills: 30, retryWithNewId: false });
  const notes = notesOf(r);
  const zero = (name: string, value: number, unit: string, n = notes): BenchResult => ({
    name,
    value,
    unit,
    target: '0',
    met: value === 0,
    notes: n,
  });
  const out: BenchResult[] = [
    zero('kill soak: confirmed messages lost', r.lost, 'messages'),
    zero('kill soak: messages with a transactionId the CMS did not issue', r.wrongId, 'messages'),
    zero('kill soak: offline sessions reaching the CMS with a wrong id', r.offlineSessionsWithWrongId, 'sessions'),
    zero('kill soak: duplicates with a new message id', r.duplicateNewId, 'messages'),
    zero('kill soak: first arrivals out of charger order', r.outOfOrder, 'messages'),
    { name: 'kill soak: duplicates with the same message id', value: r.duplicateSameId, unit: 'messages', notes },
    { name: 'kill soak: offline sessions', value: r.offlineSessions, unit: 'sessions', notes },
    { name: 'kill soak: SIGKILLs', value: r.kills, unit: 'kills', target: '>= 20', met: r.kills >= 20, notes },
  ];
  const n = await soak({ seed: 6, kills: 20, retryWithNewId: true });
  const nn = notesOf(n);
  out.push(
    zero('kill soak, chargers retry under a new id: lost', n.lost, 'messages', nn),
    zero('kill soak, chargers retry under a new id: wrong transactionId', n.wrongId, 'messages', nn),
    zero(
      'kill soak, chargers retry under a new id: duplicates with a new message id',
      n.duplicateNewId,
      'messages',
      nn,
    ),
    zero('kill soak, chargers retry under a new id: out of order', n.outOfOrder, 'messages', nn),
  );
  return out;
}
