// Issue 23, "one agent-credential parser": the WebSocket upgrade and the agent routes read the Authorization
// value with one function (packages/hub/src/agents/agent-credential.ts; `npm run lint` keeps it the only reader).
// These are the forms it takes and refuses, as both doors did before they shared it.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { agentCredentialOf, credentialMemberId, newAgentCredential } from '../../packages/hub/dist/agents/agent-credential.js';

describe('one agent-credential parser', () => {
  it('reads `GatehouseAgent <credential>` (trimmed) and nothing else', () => {
    const id = randomUUID();
    expect(agentCredentialOf(`GatehouseAgent ${id}.secret`)).toBe(`${id}.secret`);
    expect(agentCredentialOf(`GatehouseAgent   ${id}.secret  `)).toBe(`${id}.secret`);
    expect(agentCredentialOf('GatehouseAgent ')).toBe('');
    for (const other of [undefined, '', 'GatehouseAgent', `gatehouseagent ${id}.s`, `Bearer ${id}.s`, `GatehouseAgent\t${id}.s`, ` GatehouseAgent ${id}.s`]) {
      expect(agentCredentialOf(other)).toBeUndefined();
    }
  });

  it('names the member only when the credential starts with a member id, and makes credentials it can read back', () => {
    const id = randomUUID();
    expect(credentialMemberId(`${id}.secret`)).toBe(id);
    expect(credentialMemberId('not-a-member.secret')).toBeUndefined();
    expect(credentialMemberId('')).toBeUndefined();
    const { credential, hash } = newAgentCredential(id);
    expect(agentCredentialOf(`GatehouseAgent ${credential}`)).toBe(credential);
    expect(credentialMemberId(credential)).toBe(id);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(credential).not.toContain(hash);
  });
});
