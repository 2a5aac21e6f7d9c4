import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerScenarioCommand } from '../../src/cli/commands/scenario.js';

describe('gridkeeper scenario (CLI)', () => {
  afterEach(() => vi.restoreAllMocks());

  function program() {
    const p = new Command().exitOverride();
    registerScenarioCommand(p);
    return p;
  }

  it('lists the scenarios when no name is given', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out.push(String(s));
      return true;
    });
    await program().parseAsync(['node', 'gridkeeper', 'scenario']);
    const text = out.join('');
    expect(text).toMatch(/^depot\s+40 chargers/m);
    expect(text).toMatch(/^hub\s+/m);
    expect(text).toMatch(/^stress\s+200 chargers/m);
  });

  it('refuses a malformed --delay-ms and an unknown controller', async () => {
    await expect(
      program().parseAsync(['node', 'gridkeeper', 'scenario', 'depot', '--delay-ms', 'soon']),
    ).rejects.toThrow(/--delay-ms must be/);
    await expect(
      program().parseAsync(['node', 'gridkeeper', 'scenario', 'depot', '--controllers', 'magic']),
    ).rejects.toThrow(/unknown controller "magic"/);
  });
});
