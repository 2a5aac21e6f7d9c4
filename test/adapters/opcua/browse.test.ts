import { Command } from 'commander';
import { setErrorLogger, setWarningLogger } from 'node-opcua';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browse } from '../../../adapters/opcua/browse.js';
import { registerOpcuaCommand } from '../../../src/cli/commands/opcua.js';
import { VirtualClock } from '../../../src/model/clock.js';
import { BmsServer } from '../../../sim/devices/opcua/bms-server.js';

let bms: BmsServer;

beforeAll(async () => {
  setWarningLogger(() => {});
  setErrorLogger(() => {});
  bms = new BmsServer({ clock: new VirtualClock(), port: 0, initialSocPct: 58, users: { installer: 'pw' } });
  await bms.start();
});

afterAll(async () => {
  await bms.stop();
});

function cli(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  const program = new Command().exitOverride();
  registerOpcuaCommand(program, { out: (t) => out.push(t), err: (t) => err.push(t), env, fail: (c) => (code = c) });
  return {
    run: (args: string[]) => program.parseAsync(['node', 'gridkeeper', ...args]),
    out: () => out.join(''),
    err: () => err.join(''),
    code: () => code,
  };
}

describe('OPC UA browse', () => {
  it('lists the BMS object under Objects and its variables with types and values', async () => {
    const top = await browse(bms.endpointUrl, undefined, { username: 'installer', password: 'pw' });
    expect(top.map((e) => e.browseName)).toContain('1:BMS');
    const bmsEntry = top.find((e) => e.browseName === '1:BMS');
    expect(bmsEntry).toMatchObject({ nodeId: 'ns=1;s=BMS', nodeClass: 'Object' });

    const children = await browse(bms.endpointUrl, 'ns=1;s=BMS', { username: 'installer', password: 'pw' });
    const soc = children.find((e) => e.browseName === '1:SoC');
    expect(soc).toEqual({
      nodeId: 'ns=1;s=BMS.SoC',
      browseName: '1:SoC',
      displayName: 'SoC',
      nodeClass: 'Variable',
      dataType: 'Double',
      value: 58,
    });
    expect(children.find((e) => e.browseName === '1:Alarms')?.dataType).toBe('UInt32');
    expect(children.map((e) => e.browseName)).toContain('1:PowerSetpoint');
  });

  it('`gridkeeper opcua browse` prints a table, or JSON, with the password taken from the environment', async () => {
    const c = cli({ OPCUA_PASSWORD: 'pw' });
    await c.run(['opcua', 'browse', bms.endpointUrl, 'ns=1;s=BMS', '--user', 'installer']);
    expect(c.code()).toBe(0);
    const lines = c.out().split('\n');
    expect(lines[0]).toMatch(/^NodeId\s+Class\s+BrowseName\s+DataType\s+Value$/);
    expect(lines.find((l) => l.startsWith('ns=1;s=BMS.SoC'))).toMatch(/Variable\s+1:SoC\s+Double\s+58/);

    const j = cli({ MY_PW: 'pw' });
    await j.run([
      'opcua',
      'browse',
      bms.endpointUrl,
      'ns=1;s=BMS',
      '--user',
      'installer',
      '--password-env',
      'MY_PW',
      '--json',
    ]);
    const parsed = JSON.parse(j.out()) as Array<{ nodeId: string }>;
    expect(parsed.map((e) => e.nodeId)).toContain('ns=1;s=BMS.MaxChargePower');
  });

  it('reports a refused login and an unreachable endpoint on stderr with exit code 1', async () => {
    const c = cli({ OPCUA_PASSWORD: 'nope' });
    await c.run(['opcua', 'browse', bms.endpointUrl, '--user', 'installer']);
    expect(c.code()).toBe(1);
    expect(c.err()).toMatch(/opcua browse .*Bad/);

    const d = cli();
    await d.run(['opcua', 'browse', 'opc.tcp://127.0.0.1:1']);
    expect(d.code()).toBe(1);
    expect(d.err()).toContain('opc.tcp://127.0.0.1:1');
  });
});
