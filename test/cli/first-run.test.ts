import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, freePort, gridkeeper, listening, occupy, runToEnd } from './spawn.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gk-first-run-'));

/** One line, no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0] as string;
}

/** A minimal real site: a Modbus-less gateway with its own database, on any free ports. */
function siteFile(dir: string, extra = ''): string {
  const file = join(dir, 'site.yaml');
  writeFileSync(
    file,
    [
      'site: { id: t, limitW: 22000, failsafeLimitW: 4000, circuits: [ { id: feeder-1, parent: site, maxCurrentA: 63 } ] }',
      'chargers: [ { id: CP1, circuit: feeder-1, maxCurrentA: 16 } ]',
      'api: { port: 0 }',
      'ocpp: { port: 0 }',
      `store: { path: ${join(dir, 'gw.db')} }`,
      extra,
    ].join('\n'),
  );
  return file;
}

describe('gridkeeper first run', () => {
  it('--version prints the package version', async () => {
    const r = await runToEnd(['--version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(r.stdout.trim()).toBe(pkg.version);
  }, 60_000);

  it('a port in use: one line naming the port and its flag, exit 1, no simulator left listening', async () => {
    const busy = await occupy();
    const port = (busy.address() as { port: number }).port;
    try {
      const sims = {
        '--cms-port': await freePort(),
        '--meter-port': await freePort(),
        '--pv-port': await freePort(),
        '--battery-port': await freePort(),
        '--mqtt-port': await freePort(),
        '--vtn-port': await freePort(),
        '--http-port': await freePort(),
      };
      // The OSCP simulator's port is the busy one: it comes after every other part.
      const args = [
        'demo',
        '--data-dir',
        tmp(),
        '--ocpp-port',
        '0',
        '--modbus-charger-port',
        '0',
        '--oscp-port',
        String(port),
      ];
      for (const [flag, p] of Object.entries(sims)) args.push(flag, String(p));
      const r = await runToEnd(args);
      expect(r.code).toBe(1);
      const line = oneLine(r.stderr);
      expect(line).toContain(`port ${port}`);
      expect(line).toContain('--oscp-port');
      expect(line).toContain('in use');
      for (const p of Object.values(sims)) expect(await listening(p)).toBe(false);
    } finally {
      busy.close();
    }
  }, 60_000);

  it('a directory as the database path: one line naming store.path, exit 2', async () => {
    const dir = tmp();
    const dbDir = join(dir, 'db');
    mkdirSync(dbDir);
    const file = siteFile(dir).replace(/$/, '');
    writeFileSync(file, readFileSync(file, 'utf8').replace(join(dir, 'gw.db'), dbDir));
    const r = await runToEnd(['run', '--config', file, '--log-format', 'json']);
    expect(r.code).toBe(2);
    const line = oneLine(r.stderr);
    expect(line).toContain(`${dbDir} is a directory`);
    expect(line).toContain('store.path');
  }, 60_000);

  it('the demo with a file as --data-dir: one line naming --data-dir', async () => {
    const dir = tmp();
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await runToEnd(['demo', '--data-dir', file, '--http-port', '0']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain('--data-dir');
  }, 60_000);

  it('run --host listens there, logs readable lines by default on request and JSON with --log-format json', async () => {
    const dir = tmp();
    const file = siteFile(dir);
    for (const format of ['pretty', 'json'] as const) {
      const child = gridkeeper(['run', '--config', file, '--host', '127.0.0.2', '--log-format', format]);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const done = collect(child);
      const deadline = Date.now() + 45_000;
      while (!/gridkeeper running/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const url = /http:\/\/127\.0\.0\.2:\d+/.exec(out)?.[0];
      expect(url, out).toBeDefined();
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      child.kill('SIGINT');
      const r = await done;
      expect(r.code).toBe(0);
      const lines = out.trim().split('\n');
      if (format === 'json') {
        for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
      } else {
        expect(lines.some((l) => /^\d\d:\d\d:\d\d (INFO|WARN) /.test(l))).toBe(true);
        expect(lines.some((l) => l.startsWith('{'))).toBe(false);
      }
      // The site has no grid meter: said at start, not silently in failsafe.
      expect(out).toMatch(/no grid meter/);
    }
  }, 120_000);

  it('check-config: an unknown circuit is named with the intended id even beside schema errors; no meter warns', async () => {
    const dir = tmp();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      [
        'site: { id: t, limitW: -1, failsafeLimitW: 4000, circuits: [ { id: feeder-1, parent: site, maxCurrentA: 63 } ] }',
        'chargers: [ { id: CP1, circuit: feeder1, maxCurrentA: 16 } ]',
        'control: { policies: { allocator: { phaseSwitching: [ CP-1 ] } } }',
      ].join('\n'),
    );
    const r = await runToEnd(['check-config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('site.limitW');
    expect(r.stderr).toContain('chargers[0].circuit: unknown circuit "feeder1": did you mean "feeder-1"?');
    expect(r.stderr).toContain('unknown charger "CP-1": did you mean "CP1"?');

    const ok = await runToEnd(['check-config', siteFile(dir)]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('1 warning(s)');
    expect(ok.stderr).toMatch(/^warning: .*no grid meter.*failsafeLimitW = 4000 W/);
  }, 60_000);
});
