// The stack most suites start: a fake Entra ID, an echo service, a hub, a caller token, and one gateway with
// one agent allowed to call the echo service. `stop()` takes all of it down again.
import { startFakeEntra, type FakeEntra } from './fake-entra.js';
import { startEchoServer, type EchoServer } from './echo-server.js';
import { gatewayWithAgent, startHub, type AgentProc, type HubProc } from './stack.js';
import { cleanupTempDirs } from './tmp.js';

export interface StandardStack {
  entra: FakeEntra;
  echo: EchoServer;
  hub: HubProc;
  token: string;
  gatewayId: string;
  agent: AgentProc;
  stop(): Promise<void>;
}

export interface StandardStackOptions {
  hubEnv?: Record<string, string>;
  /** The agent's --allow prefixes (default: the whole echo service). */
  allow?: (echoUrl: string) => string[];
  agentArgs?: string[];
}

export async function startStandardStack(o: StandardStackOptions = {}): Promise<StandardStack> {
  const entra = await startFakeEntra();
  const echo = await startEchoServer();
  const hub = await startHub(entra, o.hubEnv);
  const token = await entra.token();
  const { gatewayId, agent } = await gatewayWithAgent(hub.url, token, o.allow?.(echo.url) ?? [`${echo.url}/`], 'gw', o.agentArgs);
  return {
    entra,
    echo,
    hub,
    token,
    gatewayId,
    agent,
    async stop() {
      await agent.stop();
      await hub.stop();
      await echo.close();
      await entra.close();
      cleanupTempDirs();
    },
  };
}
