// The stack the cluster suites start (scaleout, hub-mesh, agent-answers-cluster): a fake Entra ID, an echo
// service, real PostgreSQL and Redis, a caller token, and the hubs of one cluster on them, each on a port of its
// own that it advertises. `stop()` takes all of it down again; a suite stops its own agents first.
import { startFakeEntra, type FakeEntra } from './fake-entra.js';
import { startEchoServer, type EchoServer } from './echo-server.js';
import { freePort } from './apache.js';
import { startPostgres, startRedis, type Postgres, type Redis } from './datastores.js';
import { startHub, type HubProc } from './stack.js';
import { cleanupTempDirs } from './tmp.js';

/** GATEHOUSE_CLUSTER_SECRET of every hub `hub()` starts (unless its settings say otherwise). */
export const CLUSTER_SECRET = 'cluster-secret-for-tests-0123456789abcdef';

export interface ClusterStack {
  entra: FakeEntra;
  echo: EchoServer;
  pg: Postgres;
  redis: Redis;
  token: string;
  /** One more hub of the cluster; `env`: settings of its own, over the stack's `hubEnv`. */
  hub(env?: Record<string, string>): Promise<HubProc>;
  stop(): Promise<void>;
}

export interface ClusterStackOptions {
  /** Settings of every hub the stack starts (the throttle, whether hubs are listed to agents…). */
  hubEnv?: Record<string, string>;
}

export async function startClusterStack(o: ClusterStackOptions = {}): Promise<ClusterStack> {
  const entra = await startFakeEntra();
  const echo = await startEchoServer();
  const pg = await startPostgres();
  const redis = await startRedis();
  const token = await entra.token();
  const hubs: HubProc[] = [];
  return {
    entra,
    echo,
    pg,
    redis,
    token,
    async hub(env = {}) {
      const port = await freePort();
      const h = await startHub(
        entra,
        {
          GATEHOUSE_DATABASE: pg.url,
          GATEHOUSE_REDIS_URL: redis.url,
          GATEHOUSE_ADVERTISE_URL: `http://127.0.0.1:${port}`,
          GATEHOUSE_CLUSTER_SECRET: CLUSTER_SECRET,
          ...o.hubEnv,
          ...env,
        },
        { port },
      );
      hubs.push(h);
      return h;
    },
    async stop() {
      for (const h of hubs) await h.stop();
      await redis.stop();
      await pg.stop();
      await echo.close();
      await entra.close();
      cleanupTempDirs();
    },
  };
}
