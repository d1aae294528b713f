#!/usr/bin/env node
// House rules that the type checker cannot see (STYLE.md). Exits 1 listing every violation.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const problems = [];
const walk = (dir) => readdirSync(dir).flatMap((n) => {
  const p = join(dir, n);
  if (n === 'node_modules' || n === 'dist') return [];
  return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
});

const IO = /from '(node:)?(fs|fs\/promises|net|http|https|tls|dgram|child_process|dns|os)'/;

// Per-call code: what every relayed call runs. These patterns, made once per call, kept every call's objects
// through V8's young collections (docs/performance.md, "Objects V8 kept through young collections"). A line that
// does not run per call says so with `lint-allow: per-call` and why.
const PER_CALL = {
  shared: [''],
  hub: ['hub.ts', 'log.ts', 'metrics.ts', 'http/front-door.ts', 'http/health.ts', 'http/in-flight.ts', 'auth/identify.ts', 'http/router.ts', 'http/respond.ts', 'http/body-rate.ts', 'http/call-caps.ts', 'relay/', 'agents/', 'cluster/hub-relay.ts', 'cluster/relay-envelope.ts', 'cluster/upstream-remote.ts',
    'auth/caller-auth.ts', 'store/read-cache.ts', 'throttle/'],
  agent: ['agent.ts', 'tunnel/', 'executor/'],
};
const PER_CALL_RULES = [
  [/[{,(]\s*(get|set)\s+[A-Za-z_$][\w$]*\s*\(|^\s*(get|set)\s+[A-Za-z_$][\w$]*\s*\([^)]*\)[^{]*\{.*\},\s*$/,
    'no getter or setter in an object literal (a class\'s are fine)'],
  [/\{\s*\.\.\.[^{}]*,/, 'no object made as { ...a, b }: write the fields out'],
  [/new AbortController\(/, 'no AbortController per call (see CallCancel)'],
];
for (const pkg of ['shared', 'hub', 'agent']) {
  for (const file of walk(join(root, 'packages', pkg, 'src'))) {
    const rel = relative(root, file);
    const src = readFileSync(file, 'utf8');
    const name = file.split('/').pop();
    if (!/^[a-z0-9]+(-[a-z0-9]+)*(\.d)?\.ts$/.test(name)) problems.push(`${rel}: file names are kebab-case`);
    if (pkg === 'shared' && IO.test(src)) problems.push(`${rel}: shared imports no I/O`);
    if (pkg === 'hub' && /from '@gatehouse\/agent/.test(src)) problems.push(`${rel}: the hub never imports the agent`);
    if (pkg === 'agent' && /from '@gatehouse\/hub/.test(src)) problems.push(`${rel}: the agent never imports the hub`);
    if (/console\.(log|info|debug)\(/.test(src)) problems.push(`${rel}: log with pino, not console`);
    const readsEnv = /process\.env\b/.test(src);
    // kerberos.ts sets KRB5CCNAME for GSSAPI (it reads no configuration); it says so with this marker.
    const mayReadEnv = ['config.ts', 'main.ts', 'dev.ts'].includes(name) || src.includes('lint-allow: process-env');
    if (readsEnv && !mayReadEnv) problems.push(`${rel}: only config.ts and entry points read process.env`);
    if (/\bany\b\s*[;,)=]/.test(src.replace(/\/\/.*$/gm, '')) && /: any\b|as any\b/.test(src)) problems.push(`${rel}: no \`any\``);
    const inSrc = relative(join(root, 'packages', pkg, 'src'), file);
    // One reader of the agent credential (the upgrade and the agent routes refuse alike, counted alike).
    if (pkg === 'hub' && /AGENT_AUTH_SCHEME/.test(src) && inSrc !== 'agents/agent-credential.ts') problems.push(`${rel}: the agent credential is read in agents/agent-credential.ts only`);
    if (PER_CALL[pkg].some((p) => inSrc.startsWith(p))) {
      src.split('\n').forEach((line, i) => {
        if (line.includes('lint-allow: per-call')) return;
        const code = line.replace(/\/\/.*$/, '').replace(/\/\*.*$/, '').replace(/^\s*\*.*$/, '');
        for (const [re, rule] of PER_CALL_RULES) if (re.test(code)) problems.push(`${rel}:${i + 1}: per-call code: ${rule}`);
      });
    }
  }
}
// No import cycles inside a package's src (a module's relative imports, type-only ones too): one found is
// reported as its path, a.ts -> b.ts -> a.ts. Types every path uses go in a leaf module instead.
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s+'(\.{1,2}\/[^']+)'|(?:^|\n)\s*import\s+'(\.{1,2}\/[^']+)'|\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;
for (const pkg of ['shared', 'hub', 'agent']) {
  const src = join(root, 'packages', pkg, 'src');
  const files = walk(src);
  const edges = new Map(files.map((file) => {
    const dir = file.slice(0, file.lastIndexOf('/'));
    const to = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => join(dir, (m[1] ?? m[2] ?? m[3]).replace(/\.js$/, '.ts')));
    return [file, to.filter((t) => t !== file)];
  }));
  const state = new Map(); // 1: on the current path, 2: done
  const path = [];
  const visit = (file) => {
    state.set(file, 1);
    path.push(file);
    for (const next of edges.get(file) ?? []) {
      if (!edges.has(next)) continue;
      if (state.get(next) === 1) {
        const cycle = [...path.slice(path.indexOf(next)), next].map((f) => relative(src, f));
        problems.push(`packages/${pkg}/src: import cycle ${cycle.join(' -> ')}`);
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 2);
  };
  for (const file of files) if (!state.has(file)) visit(file);
}

if (problems.length) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('lint: ok\n');
