// The gateways and members bench/tunnels.ts connects: written straight into the hub's own store (its SQLite
// file, before the hub starts), since registering 10,000 members through the agent API would take minutes of
// key-pair checks and registration keys. Each member gets a real credential (`<memberId>.<secret>`, its hash
// stored as the hub stores it), so the hub authenticates every tunnel exactly as it does a registered agent's.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AgentBounds } from '@gatehouse/shared';

// The hub's store (not exported by the package); this file runs from bench/dist/bench/.
const { openStore } = (await import(
  new URL('../../../packages/hub/dist/store/open-store.js', import.meta.url).href
)) as typeof import('../packages/hub/dist/store/open-store.js');

/** Stores `members` members in gateways of AgentBounds.membersPerGateway each (owned by nobody who calls);
 *  returns their credentials. */
export async function storeFleet(databasePath: string, members: number): Promise<string[]> {
  const store = await openStore(`sqlite:${databasePath}`);
  const credentials: string[] = [];
  try {
    const now = new Date().toISOString();
    let gatewayId = '';
    for (let i = 0; i < members; i++) {
      if (i % AgentBounds.membersPerGateway === 0) {
        gatewayId = randomUUID();
        await store.createGateway(
          {
            id: gatewayId,
            name: `fleet-${i / AgentBounds.membersPerGateway}`,
            ownerTid: 'bench',
            ownerOid: 'bench',
            publicKeyPem: null,
            sealedPrivateKey: null,
            routing: 'primary',
            createdAt: now,
            keyHandoff: null,
            previousPublicKeyPem: null,
          },
          'User',
        );
      }
      const id = randomUUID();
      const credential = `${id}.${randomBytes(32).toString('base64url')}`;
      const credentialHash = createHash('sha256').update(credential).digest('hex');
      if (
        !(await store.addMember(
          { id, gatewayId, name: `m${i}`, hostname: 'sim', version: 'sim', credentialHash, enabled: true, createdAt: now, lastSeenAt: null },
          AgentBounds.membersPerGateway,
        ))
      ) {
        throw new Error(`member ${i} not stored`);
      }
      credentials.push(credential);
    }
  } finally {
    await store.close();
  }
  return credentials;
}
