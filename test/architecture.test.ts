import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a file, resolved to repo-relative paths. */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(relative(ROOT, resolve(ROOT, dirname(file), m[1] as string)));
  }
  return out;
}

/**
 * The design's dependency direction, enforced: policies are pure and see
 * only the domain model; adapters never import policies; nothing but the
 * CLI's demo/scenario commands, tests and benchmarks imports the simulators.
 */
describe('dependency direction', () => {
  it('policies import only src/model and other policies', () => {
    const bad = files('policies').flatMap((f) =>
      imports(f)
        .filter((i) => !i.startsWith('src/model/') && !i.startsWith('policies/'))
        .map((i) => `${f} -> ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it('adapters never import policies, the CLI or the simulators', () => {
    const bad = files('adapters').flatMap((f) =>
      imports(f)
        .filter((i) => i.startsWith('policies/') || i.startsWith('src/cli/') || i.startsWith('sim/'))
        .map((i) => `${f} -> ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it('only the CLI composition root imports adapters from src/', () => {
    const bad = files('src').flatMap((f) =>
      f.startsWith('src/cli/')
        ? []
        : imports(f)
            .filter((i) => i.startsWith('adapters/') || i.startsWith('sim/'))
            .map((i) => `${f} -> ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it('the core imports no policy and nothing of the CLI: policies are bound in src/cli/policies.ts', () => {
    const bad = files('src').flatMap((f) =>
      f.startsWith('src/cli/')
        ? []
        : imports(f)
            .filter((i) => i.startsWith('policies/') || i.startsWith('src/cli/'))
            .map((i) => `${f} -> ${i}`),
    );
    expect(bad).toEqual([]);
  });

  it('production code never reads the wall clock directly', () => {
    const offenders = [...files('src'), ...files('adapters'), ...files('policies')].filter((f) => {
      if (f === 'src/model/clock.ts' || f === 'src/store/db.ts') return false;
      return /\bDate\.now\(\)|new Date\(\)/.test(readFileSync(join(ROOT, f), 'utf8'));
    });
    expect(offenders).toEqual([]);
  });
});
