#!/usr/bin/env node
// House rules no linter has (STYLE.md): the per-call allocation rules, one reader of the agent credential, no
// import cycles. `npm run lint` runs Biome first (biome.jsonc: the generic rules, and the
// house rules a Biome rule expresses: kebab-case file names, shared imports no I/O, hub and agent never import
// each other, no console, process.env only in config.ts and entry points, no `any`), then this. Exits 1 listing
// every violation. `node scripts/lint.mjs [ROOT]` checks the tree at ROOT (default: this repository; the suite
// test/suites/lint-rules.test.ts points it at a made-up tree).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = process.argv[2] ? resolve(process.argv[2]) : new URL('..', import.meta.url).pathname;
const problems = [];
const walk = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules' || n === 'dist') return [];
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });

// ---- Per-call allocation rules ---------------------------------------------------------------------------------
// The modules every relayed call runs, by package (a path under packages/PKG/src: a file, or a folder ending in
// `/` for every file in it). Made once per call, the constructs in PER_CALL_RULES kept every call's objects through
// V8's young collections (docs/performance.md, "Objects V8 kept through young collections"). A module that starts
// running per call is added here; an entry that no longer exists is itself reported, so a rename cannot drop a
// module from the rules unnoticed.
const PER_CALL_MODULES = {
  // the protocol codec, flow control, header and URL rules: all of shared runs per call
  shared: [''],
  hub: [
    'log.ts', // the access line
    'metrics.ts', // per-call counters and histograms
    'http/front-door.ts', // every request's entry, routing and error answer
    'http/health.ts', // asked of every request (is it /healthz…?)
    'http/in-flight.ts', // requests being answered
    'auth/identify.ts', // the caller of every call
    'http/router.ts',
    'http/respond.ts',
    'http/body-rate.ts',
    'http/call-caps.ts',
    'relay/', // running a call, direct or through an agent
    'agents/', // the agent session and its streams
    'cluster/hub-relay.ts', // a call for an agent on another hub (the serving side)
    'cluster/relay-envelope.ts', // its signed head
    'cluster/upstream-remote.ts', // the calling side
    'auth/caller-auth.ts', // the bearer token of every call
    'store/read-cache.ts', // connection and grant reads
    'throttle/', // rate limits
  ],
  agent: [
    'agent.ts',
    'tunnel/', // frames and streams of every call
    'executor/', // the HTTP request to the intranet service
  ],
};

/** [rule text, whether a node breaks it] */
const PER_CALL_RULES = [
  [
    "no getter or setter in an object literal (a class's are fine)",
    (n) => (ts.isGetAccessorDeclaration(n) || ts.isSetAccessorDeclaration(n)) && ts.isObjectLiteralExpression(n.parent),
  ],
  [
    'no object made as { ...a, b }: write the fields out',
    (n) => ts.isObjectLiteralExpression(n) && n.properties.length > 1 && ts.isSpreadAssignment(n.properties[0]),
  ],
  ['no AbortController per call (see CallCancel)', (n) => ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'AbortController'],
];
// A construct that does not run per call says so, and why, on the line where it starts or on the line above.
const ALLOW = 'lint-allow: per-call';

function perCallProblems(file, rel) {
  const src = readFileSync(file, 'utf8');
  const lines = src.split('\n');
  const sf = ts.createSourceFile(file, src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const visit = (n) => {
    for (const [rule, breaks] of PER_CALL_RULES) {
      if (!breaks(n)) continue;
      const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      if (!lines[line].includes(ALLOW) && !(line > 0 && lines[line - 1].includes(ALLOW))) problems.push(`${rel}:${line + 1}: per-call code: ${rule}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}

for (const [pkg, modules] of Object.entries(PER_CALL_MODULES)) {
  const src = join(root, 'packages', pkg, 'src');
  for (const m of modules) if (!existsSync(join(src, m))) problems.push(`scripts/lint.mjs: per-call module packages/${pkg}/src/${m} does not exist`);
  for (const file of existsSync(src) ? walk(src) : []) {
    const inSrc = relative(src, file);
    if (modules.some((m) => (m === '' || m.endsWith('/') ? inSrc.startsWith(m) : inSrc === m))) perCallProblems(file, relative(root, file));
  }
}

// ---- One reader of the agent credential ----------------------------------------------------------------------------
// The upgrade and the agent routes refuse alike and count failures alike: only agents/agent-credential.ts reads it.
{
  const src = join(root, 'packages', 'hub', 'src');
  for (const file of existsSync(src) ? walk(src) : []) {
    const inSrc = relative(src, file);
    if (inSrc !== 'agents/agent-credential.ts' && /AGENT_AUTH_SCHEME/.test(readFileSync(file, 'utf8'))) {
      problems.push(`${relative(root, file)}: the agent credential is read in agents/agent-credential.ts only`);
    }
  }
}

// ---- No import cycles ----------------------------------------------------------------------------------------------
// No import cycles inside a package's src (a module's relative imports, type-only ones too): one found is
// reported as its path, a.ts -> b.ts -> a.ts. Types every path uses go in a leaf module instead.
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s+'(\.{1,2}\/[^']+)'|(?:^|\n)\s*import\s+'(\.{1,2}\/[^']+)'|\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;
for (const pkg of ['shared', 'hub', 'agent']) {
  const src = join(root, 'packages', pkg, 'src');
  const files = existsSync(src) ? walk(src) : [];
  const edges = new Map(
    files.map((file) => {
      const dir = file.slice(0, file.lastIndexOf('/'));
      const to = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => join(dir, (m[1] ?? m[2] ?? m[3]).replace(/\.js$/, '.ts')));
      return [file, to.filter((t) => t !== file)];
    }),
  );
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
