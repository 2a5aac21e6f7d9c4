// `npm start` and `npm ci` (prepare) run this before the compiled gateway: the
// demo starts from dist/ because loading ~270 TypeScript files through tsx
// costs more than a second on a small box (issue 16: ready in <= 2 s). It
// rebuilds only when dist/ is missing or older than a source file, so an edited
// checkout never runs stale code. Plain JS on purpose: it runs before any build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const STAMP = join('dist', '.build-stamp');
const SOURCES = ['src', 'adapters', 'policies', 'sim', 'bench', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newest(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}

const stamp = statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const source = Math.max(...SOURCES.map(newest));
if (stamp >= source) process.exit(0);

// A production install (`npm ci --omit=dev`) has no compiler: say so instead of failing the install.
try {
  createRequire(import.meta.url).resolve('typescript');
} catch {
  const built = existsSync('dist');
  process.stderr.write(
    built
      ? 'gridkeeper: dist/ is older than the sources and TypeScript is not installed to rebuild it (npm ci without --omit=dev, then npm run build)\n'
      : 'gridkeeper: dist/ is not built and TypeScript is not installed (npm ci without --omit=dev, then npm run build)\n',
  );
  // The install itself never fails on it; `npm start` fails only when there is nothing to run.
  process.exit(built || process.env.npm_lifecycle_event === 'prepare' ? 0 : 1);
}
process.stderr.write(
  stamp === 0 ? 'gridkeeper: building dist/ (once)...\n' : 'gridkeeper: sources changed, rebuilding dist/...\n',
);
const r = spawnSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
