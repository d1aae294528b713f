// Whether an agent kept its process and its tunnel through a test: the same PID, still running, no new
// "connected to hub" line and no "disconnected from hub" line in its log, and the hub's view of the member
// (its `connectedAt`) unchanged. Fault-injection suites take a snapshot first and compare after each fault.
import { expect } from 'vitest';
import { api, type AgentProc } from './stack.js';

export interface TunnelSnapshot {
  pid: number | undefined;
  connects: number;
  connectedAt: Array<string | null>;
}

const count = (agent: AgentProc, text: string) => agent.lines.filter((l) => l.includes(text)).length;

export async function tunnelSnapshot(hubUrl: string, token: string, gatewayId: string, agent: AgentProc): Promise<TunnelSnapshot> {
  const g = await api(hubUrl, token, 'GET', `/v1/gateways/${gatewayId}`);
  expect(g.status, g.text).toBe(200);
  const connectedAt = (g.json.members as Array<{ connectedAt: string | null }>).map((m) => m.connectedAt);
  // (a member that is not connected has none: the comparison would prove nothing)
  expect(connectedAt.length > 0 && connectedAt.every((c) => typeof c === 'string'), JSON.stringify(g.json.members)).toBe(true);
  return { pid: agent.child.pid, connects: count(agent, '"connected to hub"'), connectedAt };
}

export async function expectTunnelIntact(before: TunnelSnapshot, hubUrl: string, token: string, gatewayId: string, agent: AgentProc): Promise<void> {
  expect(agent.child.exitCode, `agent exited; last lines:\n${agent.lines.slice(-10).join('\n')}`).toBeNull();
  expect(agent.child.signalCode).toBeNull();
  const now = await tunnelSnapshot(hubUrl, token, gatewayId, agent);
  expect(now).toEqual(before);
  expect(agent.lines.filter((l) => l.includes('"disconnected from hub"') || l.includes('AgentFault'))).toEqual([]);
}
