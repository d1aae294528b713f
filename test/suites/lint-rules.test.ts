// Issue 23, "Tools the ecosystem uses": the house rules scripts/lint.mjs checked line by line by regex now come
// from Biome rules (biome.jsonc), and lint.mjs keeps only the per-call allocation rules, read from the syntax tree.
// Each case writes a small made-up tree into a temporary directory and runs the real tools on it: Biome with this
// repository's biome.jsonc, and `node scripts/lint.mjs ROOT`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIOME = join(REPO, 'node_modules', '.bin', 'biome');

function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

afterAll(() => cleanupTempDirs());

interface Finding {
  path: string;
  rule: string;
  message: string;
}

describe('issue 23: the house rules Biome checks (biome.jsonc)', () => {
  let findings: Finding[] = [];
  const at = (path: string) => findings.filter((f) => f.path === path).map((f) => `${f.rule}: ${f.message}`);

  beforeAll(() => {
    const root = tempDir('gatehouse-biome-');
    copyFileSync(join(REPO, 'biome.jsonc'), join(root, 'biome.jsonc'));
    writeTree(root, {
      'packages/shared/src/reads-files.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
      'packages/shared/src/uses-hub.ts': "import { startHub } from '@gatehouse/hub/dist/hub.js';\nexport const s = startHub;\n",
      'packages/shared/src/pure.ts': "import { Buffer } from 'node:buffer';\nexport const b = Buffer.alloc(1);\n",
      'packages/hub/src/uses-agent.ts': "import { startAgent } from '@gatehouse/agent';\nexport const s = startAgent;\n",
      'packages/agent/src/uses-hub.ts': "import { startHub } from '@gatehouse/hub/dist/hub.js';\nexport const s = startHub;\n",
      'packages/hub/src/relay/CamelName.ts': 'export const x = 1;\n',
      'packages/hub/src/relay/reads-env.ts': 'export const port = process.env.PORT;\n',
      'packages/hub/src/config.ts': 'export const port = process.env.PORT;\n',
      'packages/agent/src/main.ts': 'export const port = process.env.PORT;\n',
      'packages/hub/src/relay/logs.ts': "export function f(): void {\n  console.log('x');\n  console.error('y');\n}\n",
      'packages/agent/src/tunnel/loose.ts': 'export const f = (x: any): number => x;\n',
    });
    const run = spawnSync(BIOME, ['lint', '--vcs-enabled=false', '--reporter=json', '--max-diagnostics=none', '.'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const report = JSON.parse(run.stdout) as { diagnostics: Array<{ category: string; message: string; location: { path: string } }> };
    findings = report.diagnostics.map((d) => ({ path: d.location.path, rule: d.category, message: d.message }));
  });

  it('shared imports no I/O, and neither the hub nor the agent', () => {
    expect(at('packages/shared/src/reads-files.ts')).toEqual(['lint/style/noRestrictedImports: shared imports no I/O']);
    expect(at('packages/shared/src/uses-hub.ts')).toEqual(['lint/style/noRestrictedImports: shared imports neither the hub nor the agent']);
    expect(at('packages/shared/src/pure.ts')).toEqual([]);
  });

  it('the hub never imports the agent, and the agent never imports the hub', () => {
    expect(at('packages/hub/src/uses-agent.ts')).toEqual(['lint/style/noRestrictedImports: the hub never imports the agent']);
    expect(at('packages/agent/src/uses-hub.ts')).toEqual(['lint/style/noRestrictedImports: the agent never imports the hub']);
  });

  it('file names are kebab-case', () => {
    expect(at('packages/hub/src/relay/CamelName.ts')).toEqual(['lint/style/useFilenamingConvention: The filename should be in kebab-case.']);
  });

  it('only config.ts and the entry points read process.env', () => {
    expect(at('packages/hub/src/relay/reads-env.ts').map((f) => f.split(':')[0])).toEqual(['lint/style/noProcessEnv']);
    expect(at('packages/hub/src/config.ts')).toEqual([]);
    expect(at('packages/agent/src/main.ts')).toEqual([]);
  });

  it('product code logs with pino, not console.log (console.error stays allowed)', () => {
    expect(at('packages/hub/src/relay/logs.ts').map((f) => f.split(':')[0])).toEqual(['lint/suspicious/noConsole']);
  });

  it('no `any`', () => {
    expect(at('packages/agent/src/tunnel/loose.ts').map((f) => f.split(':')[0])).toEqual(['lint/suspicious/noExplicitAny']);
  });
});

describe('issue 23: the per-call allocation rules (scripts/lint.mjs)', () => {
  let out = '';
  let status: number | null = null;

  beforeAll(() => {
    const root = tempDir('gatehouse-lint-');
    writeTree(root, {
      // what the formatter makes of `return { ...store, getConnection }`: the old line-by-line regex never saw it
      'packages/hub/src/store/read-cache.ts': 'export function wrap(store: object, get: () => void) {\n  return {\n    ...store,\n    get,\n  };\n}\n',
      'packages/hub/src/relay/getters.ts': [
        'export const view = (o: { n: number }) => ({',
        '  get n() {',
        '    return o.n;',
        '  },',
        '});',
        'export class View {',
        '  get n() {',
        '    return 1;',
        '  }',
        '}',
        '',
      ].join('\n'),
      'packages/agent/src/executor/cancel.ts': [
        'export const a = () => new AbortController();',
        '// lint-allow: per-call (made once, at start)',
        'export const b = () => new AbortController();',
        'export const c = () => new AbortController(); // lint-allow: per-call (made once, at start)',
        'export const d = (x: object) => ({ ...x });',
        '',
      ].join('\n'),
      // not a per-call module: the rules do not apply
      'packages/hub/src/config.ts': 'export const merge = (a: object) => ({ ...a, b: 1, get c() { return 2; } });\n',
    });
    const run = spawnSync(process.execPath, [join(REPO, 'scripts', 'lint.mjs'), root], { encoding: 'utf8', timeout: 60_000 });
    out = run.stderr;
    status = run.status;
  });

  it('fails, listing every violation', () => {
    expect(status).toBe(1);
  });

  it('a { ...a, b } written over several lines is found (the regex that read one line at a time missed store/read-cache.ts)', () => {
    expect(out).toContain('packages/hub/src/store/read-cache.ts:2: per-call code: no object made as { ...a, b }: write the fields out');
  });

  it("a getter in an object literal is found however it is formatted; a class's getter is fine", () => {
    expect(out).toContain('packages/hub/src/relay/getters.ts:2: per-call code: no getter or setter in an object literal');
    expect(out).not.toContain('packages/hub/src/relay/getters.ts:7');
  });

  it('new AbortController() is found unless `lint-allow: per-call` is on its line or the line above; a lone { ...x } copy is not the rule', () => {
    expect(out).toContain('packages/agent/src/executor/cancel.ts:1: per-call code: no AbortController per call');
    expect(out).not.toMatch(/cancel\.ts:[2-5]:/);
  });

  it('only the modules named per-call are checked, and a named module that no longer exists is reported', () => {
    expect(out).not.toContain('packages/hub/src/config.ts');
    expect(out).toContain('scripts/lint.mjs: per-call module packages/hub/src/http/front-door.ts does not exist');
  });
});

/** Runs scripts/lint.mjs on a tree holding `files` (paths under packages/), as `node scripts/lint.mjs ROOT`. */
function lint(files: Record<string, string>): { status: number | null; stderr: string } {
  const root = tempDir();
  for (const pkg of ['shared', 'hub', 'agent']) mkdirSync(join(root, 'packages', pkg, 'src'), { recursive: true });
  writeTree(join(root, 'packages'), files);
  const r = spawnSync(process.execPath, [join(REPO, 'scripts', 'lint.mjs'), root], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}
/** The lines of a lint run about import cycles (a made-up tree lacks the per-call modules, which is reported too). */
const cycles = (stderr: string) => stderr.split('\n').filter((l) => l.includes('import cycle'));

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
    expect(
      paths.some((p) => cycle.stderr.includes(`packages/hub/src: import cycle ${p}`)),
      cycle.stderr,
    ).toBe(true);
    // the same modules with the shared types in a leaf: no cycle
    const leaf = lint({
      'hub/src/relay/relay.ts': "import { startDirect } from './direct.js';\nexport const go = startDirect;\n",
      'hub/src/relay/direct.ts': "import type { Timing } from '../cluster/types.js';\nexport const startDirect = (t: Timing) => t;\n",
      'hub/src/cluster/types.ts': 'export type Timing = number;\n',
    });
    expect(cycles(leaf.stderr)).toEqual([]);
  });
});
