// The house rules scripts/lint.mjs keeps, run on a small tree of its own (a copy of the script beside packages/).
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const LINT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'lint.mjs');

/** Runs the lint script on a tree holding `files` (paths under packages/). */
function lint(files: Record<string, string>): { status: number | null; stderr: string } {
  const root = tempDir();
  mkdirSync(join(root, 'scripts'));
  copyFileSync(LINT, join(root, 'scripts', 'lint.mjs'));
  for (const pkg of ['shared', 'hub', 'agent']) mkdirSync(join(root, 'packages', pkg, 'src'), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, 'packages', path)), { recursive: true });
    writeFileSync(join(root, 'packages', path), text);
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'lint.mjs')], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

afterAll(() => cleanupTempDirs());

describe('lint', () => {
  it('issue 23: an import cycle in a package fails the lint with its path (type-only imports count)', () => {
    // Regression: relay.ts, direct.ts, call-watch.ts and hub-relay.ts imported each other in a cycle, and no rule said so.
    const cycle = lint({
      'hub/src/relay/relay.ts': "import { startDirect } from './direct.js';\nexport const go = startDirect;\n",
      'hub/src/relay/direct.ts': "import type { Timing } from '../cluster/types.js';\nexport const startDirect = (t: Timing) => t;\n",
      'hub/src/cluster/types.ts': "import type {\n  go,\n} from '../relay/relay.js';\nexport type Timing = typeof go;\n",
      'hub/src/leaf.ts': 'export const x = 1;\n',
    });
    expect(cycle.status).toBe(1);
    // the cycle as a path, from whichever of its modules the walk met first
    const ring = ['relay/relay.ts', 'relay/direct.ts', 'cluster/types.ts'];
    const paths = ring.map((_, i) => [...ring.slice(i), ...ring.slice(0, i), ring[i]].join(' -> '));
    expect(paths.some((p) => cycle.stderr.includes(`packages/hub/src: import cycle ${p}`)), cycle.stderr).toBe(true);
    // the same modules with the shared types in a leaf: no cycle
    const leaf = lint({
      'hub/src/relay/relay.ts': "import { startDirect } from './direct.js';\nexport const go = startDirect;\n",
      'hub/src/relay/direct.ts': "import type { Timing } from '../cluster/types.js';\nexport const startDirect = (t: Timing) => t;\n",
      'hub/src/cluster/types.ts': 'export type Timing = number;\n',
    });
    expect(leaf.stderr).toBe('');
    expect(leaf.status).toBe(0);
  });
});
