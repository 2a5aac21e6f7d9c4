import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runToEnd } from '../cli/spawn.js';

/** Key=value lines of a systemd unit (repeated keys collected). */
function unit(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1] as string, [...(out.get(m[1] as string) ?? []), m[2] as string]);
  }
  return out;
}

/**
 * The deployment files are checked as text here (no Docker daemon and no
 * systemd as PID 1 in CI): what they run exists, the flags they pass are the
 * CLI's, and the hardening is in place. The unit is also parsed by systemd's
 * own `systemd-analyze verify` (Debian `systemd`, installed by .ci/run), which
 * rejects unknown directives, bad syscall groups and a missing executable.
 * `docker build` stays a manual check in docs/deployment.md.
 */
describe('deploy/', () => {
  const service = unit(readFileSync('deploy/gridkeeper.service', 'utf8'));
  const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');

  it('the systemd unit runs the built CLI as its own user, hardened, with a state directory', () => {
    const one = (k: string) => service.get(k)?.[0];
    expect(one('User')).toBe('gridkeeper');
    expect(one('StateDirectory')).toBe('gridkeeper');
    expect(one('ProtectSystem')).toBe('strict');
    for (const k of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'RestrictSUIDSGID', 'ProtectKernelModules']) {
      expect(one(k), k).toBe('yes');
    }
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('SupplementaryGroups')).toBe('dialout');
    expect(service.get('DeviceAllow')).toContain('char-ttyUSB rw');
    expect(one('RestartPreventExitStatus')).toBe('2');
    expect(one('ExecStart')).toMatch(
      /dist\/src\/cli\/main\.js run --config \/etc\/gridkeeper\/site\.yaml --log-format json$/,
    );
  });

  it('systemd itself accepts the unit (systemd-analyze verify)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gk-unit-'));
    const text = readFileSync('deploy/gridkeeper.service', 'utf8');
    const file = join(dir, 'gridkeeper.service');
    writeFileSync(file, text);
    // Throws (non-zero exit, or ENOENT when the binary is missing) with systemd's own message.
    const out = execFileSync('systemd-analyze', ['verify', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
    // The check can fail: the same unit with a broken directive is refused.
    const broken = join(dir, 'broken.service');
    writeFileSync(broken, text.replace('/usr/bin/node', '/nonexistent/node'));
    expect(() => execFileSync('systemd-analyze', ['verify', broken], { stdio: 'pipe' })).toThrow(/not executable/);
  });

  it('the Dockerfile is multi-stage on Node 20 and runs as a non-root user', () => {
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f).toMatch(/^node:20-/);
    const user = /^USER (\S+)/m.exec(dockerfile)?.[1];
    expect(user).toBe('gridkeeper');
    expect(dockerfile.indexOf('USER ')).toBeLessThan(dockerfile.indexOf('ENTRYPOINT'));
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/python3 make g\+\+/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/src\/cli\/main\.js"\]/);
  });

  it('compose adds Mosquitto and InfluxDB by profile and builds the gateway from the Dockerfile', () => {
    const compose = parse(readFileSync('deploy/compose.yaml', 'utf8')) as {
      services: Record<string, { profiles?: string[]; build?: { dockerfile: string }; image?: string }>;
    };
    expect(compose.services.gridkeeper?.build?.dockerfile).toBe('deploy/Dockerfile');
    expect(compose.services.gridkeeper?.profiles).toBeUndefined();
    expect(compose.services.mosquitto?.profiles).toEqual(['mqtt']);
    expect(compose.services.influxdb?.profiles).toEqual(['influx']);
  });

  it('the flags the unit and the image pass are flags of `gridkeeper run`', async () => {
    const help = await runToEnd(['run', '--help']);
    expect(help.code).toBe(0);
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    const flags = [...cmd, ...(service.get('ExecStart')?.[0]?.split(' ') ?? [])].filter((a) => a.startsWith('--'));
    expect(flags).toContain('--host');
    for (const f of new Set(flags)) expect(help.stdout, f).toContain(f);
  }, 60_000);
});
