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
  }
}
if (problems.length) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('lint: ok\n');
