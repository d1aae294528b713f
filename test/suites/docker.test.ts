// No Docker engine runs here, so the images are checked by what they run: each ENTRYPOINT, CMD and
// HEALTHCHECK names a file the build produces and a command line the binaries accept.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '@gatehouse/shared';
import { AGENT_MAIN, HUB_MAIN, startProc } from '../helpers/stack.js';

const file = (name: string) => readFileSync(fileURLToPath(new URL(`../../docker/${name}`, import.meta.url)), 'utf8');
const json = (df: string, key: string) => JSON.parse(new RegExp(`^${key}\\s+(\\[.*\\])$`, 'm').exec(df)![1]!) as string[];

describe('docker images', () => {
  it('the hub image runs `gatehouse-hub serve` as a non-root user with a readiness health check', async () => {
    const df = file('hub.Dockerfile');
    expect(df).toMatch(/^USER node$/m);
    const entry = json(df, 'ENTRYPOINT');
    expect(entry).toEqual(['node', ...NODE_FLAGS, 'packages/hub/dist/main.js']);
    expect(json(df, 'CMD')).toEqual(['serve']);
    expect(HUB_MAIN.endsWith(entry.at(-1)!)).toBe(true);
    expect(df).toMatch(/HEALTHCHECK .*\/readyz/);
    const p = startProc([HUB_MAIN, 'serve', '--help'], {});
    expect(await p.exited).toBe(0);
  });

  it('the agent image runs `gatehouse-agent run` with its status as the health check', async () => {
    const df = file('agent.Dockerfile');
    expect(df).toMatch(/^USER node$/m);
    const entry = json(df, 'ENTRYPOINT');
    expect(entry).toEqual(['node', ...NODE_FLAGS, 'packages/agent/dist/main.js']);
    expect(AGENT_MAIN.endsWith(entry.at(-1)!)).toBe(true);
    expect(json(df, 'CMD')).toEqual(['run', '--config', '/etc/gatehouse/agent.json']);
    const health = JSON.parse(/^HEALTHCHECK .*CMD (\[.*\])$/m.exec(df)![1]!) as string[];
    // not running: status says so and exits 1 (unhealthy), with the same command line
    const p = startProc([AGENT_MAIN, ...health.slice(2, 3), '--config', '/nonexistent/agent.json'], {});
    expect(await p.exited).toBe(1);
    expect(p.lines.join('\n')).toMatch(/not running/);
  });

  it('compose builds both images from the repository root and keeps the agent config on a volume', () => {
    const c = file('compose.yml');
    expect(c).toContain('dockerfile: docker/hub.Dockerfile');
    expect(c).toContain('dockerfile: docker/agent.Dockerfile');
    expect(c).toContain('agent-config:/etc/gatehouse');
    expect(c).toMatch(/stop_grace_period: 620s/); // the agent's 600 s drain
    expect(c).toMatch(/stop_grace_period: 40s/); // the hub's 30 s drain
  });
});
