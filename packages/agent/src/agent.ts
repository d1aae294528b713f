// createAgent(config, deps): one tunnel per --hub address and per hub the cluster lists (tunnel/hub-mesh.ts), the
// allow-list and the gateway key shared by all of them.
import { hostname as osHostname } from 'node:os';
import { credentialsProblem, openSecret, isAllowed, type RequestHeadMessage, type Secret } from '@gatehouse/shared';
import type { AgentConfig } from './config.js';
import { checkAllow, writePrivateFile } from './config.js';
import { ExecError, execute, type ExecRequest } from './executor/http-executor.js';
import { ServicePools } from './executor/service-pools.js';
import { WindowsExecutor } from './executor/windows.js';
import { KerberosAuth } from './executor/kerberos.js';
import type { Logger } from './log.js';
import { Tunnel, type TunnelOptions } from './tunnel/tunnel.js';
import { HubMesh } from './tunnel/hub-mesh.js';
import { currentPrivateKey, fetchKey } from './key-sync.js';
import type { AgentMetrics } from './metrics.js';

export interface AgentDeps {
  log: Logger;
  version: string;
  /** Where `run` publishes its state for `gatehouse-agent status`; undefined: nowhere. */
  statusPath?: string;
  random?: () => number;
  metrics?: AgentMetrics;
  /** Private (0700) directory for the Kerberos credential caches of WindowsGateway users. */
  kerberosCacheDir: string;
  /** Keytab for connections that carry no password (`run --keytab`). */
  keytab?: string;
  /** Persists the config after the agent took up a rotated gateway key. */
  saveConfig?: (c: AgentConfig) => void;
}

export interface RunningAgent {
  /** The --hub tunnels, then those to hubs the cluster listed. */
  tunnels(): Tunnel[];
  /** SIGTERM path: GoAway to every hub, finish in-flight calls (at most maxMs), close. */
  drain(maxMs: number): Promise<void>;
  /** Resolves when every --hub tunnel has stopped for good (fatal errors). */
  stopped: Promise<void>;
  /** Replaces the allow-list (validated first: throws AgentConfigError and keeps the old one). True if it changed. */
  setAllow(prefixes: string[]): boolean;
}

export function createAgent(config: AgentConfig, deps: AgentDeps): RunningAgent {
  let allow = checkAllow(config.allow);
  const pools = new ServicePools();
  // Opening a sealed credential costs an RSA decryption; cache the last few (they are this agent's own secrets).
  const opened = new Map<string, Secret>();

  // The gateway key can change under a running agent (rotation from another member): it is refreshed from
  // the hub after every (re)connection, and when a sealed credential does not open.
  let privateKeyPem = config.privateKeyPem;
  let refreshing: Promise<void> | undefined;
  const refreshKey = (): Promise<void> =>
    (refreshing ??= (async () => {
      try {
        const next = currentPrivateKey({ ...config, privateKeyPem }, await fetchKey(config)); // lint-allow: per-call (only when the key is refreshed)
        if (next !== privateKeyPem) {
          privateKeyPem = next;
          opened.clear();
          deps.saveConfig?.({ ...config, privateKeyPem }); // lint-allow: per-call (only when the key changed)
          deps.log.info({ gateway: config.gatewayId }, 'took up the rotated gateway key');
        }
      } catch (err) {
        deps.log.warn({ err: (err as Error).message }, 'cannot refresh the gateway key');
      } finally {
        refreshing = undefined;
      }
    })());

  async function prepare(head: RequestHeadMessage): Promise<{ url: URL; auth: ExecRequest['auth'] }> {
    const check = isAllowed(head.url, allow);
    if (!check.ok) {
      deps.log.warn({ requestId: head.requestId, why: check.reason }, 'refused: url outside --allow');
      throw new ExecError('UrlNotAllowed', `the url is not under this agent's --allow prefixes (${check.reason})`, true);
    }
    if (!head.credentials) return { url: check.url, auth: null };
    let secret = opened.get(head.credentials.sealed);
    if (!secret) {
      try {
        secret = openSecret(head.credentials.sealed, privateKeyPem, config.gatewayId);
      } catch {
        await refreshKey();
        try {
          secret = openSecret(head.credentials.sealed, privateKeyPem, config.gatewayId);
        } catch {
          throw new ExecError('InvalidRequest', 'the connection credentials cannot be opened with this gateway key', true);
        }
      }
      if (opened.size >= 256) opened.delete(opened.keys().next().value!);
      opened.set(head.credentials.sealed, secret);
    }
    // A client may have sealed the credentials itself (issue 25): the hub could not check them, so the rules it
    // applies to the plain form are checked here (the hub's own sealing already passed them).
    const problem = credentialsProblem(secret, head.credentials.scheme === 'windows' ? 'WindowsGateway' : 'BasicGateway');
    if (problem) throw new ExecError('InvalidRequest', `the connection's sealed credentials break a rule the hub could not check: ${problem}`);
    return { url: check.url, auth: { scheme: head.credentials.scheme, ...secret } };
  }

  const windows = new WindowsExecutor(pools, new KerberosAuth(deps.kerberosCacheDir, deps.keytab), deps.log);
  const executeCall = (req: ExecRequest) => (req.auth?.scheme === 'windows' ? windows.execute(req) : execute(pools.for(req.url.origin, req.auth), req));

  let stoppedResolve!: () => void;
  const stopped = new Promise<void>((r) => {
    stoppedResolve = r;
  });
  const writeStatus = () => {
    if (tunnels.every((t) => t.state === 'stopped')) stoppedResolve();
    if (!deps.statusPath) return;
    const status = {
      pid: process.pid,
      gatewayId: config.gatewayId,
      memberId: config.memberId,
      updatedAt: new Date().toISOString(),
      hubs: (meshRef?.all() ?? tunnels).map((t) => ({
        url: t.hubUrl,
        state: t.state,
        since: t.since.toISOString(),
        rttMs: t.rttMs,
        inFlight: t.inFlight,
        lastError: t.fatal ?? t.lastError,
        hubId: t.hubId,
        listed: t.listedHubId !== undefined,
        dials: t.dials,
      })),
    };
    try {
      writePrivateFile(deps.statusPath, JSON.stringify(status, null, 2));
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'cannot write status file');
    }
  };

  let meshRef: HubMesh | undefined;
  const tunnelTo = (hubUrl: string, extra: Partial<TunnelOptions> = {}) =>
    new Tunnel({
      hubUrl,
      credential: config.credential,
      agentVersion: deps.version,
      hostname: osHostname(),
      execute: executeCall,
      log: deps.log.child({ hub: hubUrl }),
      prepare,
      onState: (t) => {
        meshRef?.onState(t);
        writeStatus();
        if (t.state === 'connected') void refreshKey();
      },
      random: deps.random,
      metrics: deps.metrics,
      onHubs: (_t, msg) => {
        meshRef?.onHubs(msg);
        writeStatus();
      },
      mayDial: (t) => meshRef?.mayDial(t) ?? true,
      ...extra,
    });
  const tunnels: Tunnel[] = config.hubs.map((hubUrl) => tunnelTo(hubUrl));
  const mesh = new HubMesh(tunnels, (hub) => tunnelTo(hub.url, { listedHubId: hub.id }), deps.log);
  meshRef = mesh;
  for (const t of tunnels) t.start();
  // Round-trip times and in-flight counts change without state changes: refresh the status file now and then.
  const statusTimer = setInterval(writeStatus, 5000);
  statusTimer.unref();
  return {
    tunnels: () => mesh.all(),
    stopped,
    setAllow(prefixes) {
      const next = checkAllow(prefixes);
      if (next.length === allow.length && next.every((u, i) => u.href === allow[i]!.href)) return false;
      allow = next;
      return true;
    },
    async drain(maxMs) {
      mesh.close();
      await Promise.all(mesh.all().map((t) => t.drain(maxMs)));
      await windows.close();
      await pools.close();
    },
  };
}
