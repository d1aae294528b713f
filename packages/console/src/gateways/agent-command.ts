// The exact `gatehouse-agent` command that adds a member with a fresh registration key. `register` only while the
// gateway has no key pair: it makes the pair (and prints the recovery key once). Once the gateway has one, even
// with every member removed, a new member must `join`: it opens the gateway key with the recovery key, which only
// the admin holds (the hub cannot open it), so the command names it RECOVERY-KEY for the admin to fill in.
export interface CommandInput {
  hubUrl: string;
  gatewayId: string;
  key: string;
  /** The gateway already has its key pair (GET /v1/gateways/{id}/public-key answers). */
  join: boolean;
  allow: string;
  name: string;
}

/** What `join` takes in the recovery key's place, for the admin to replace. */
export const RECOVERY_PLACEHOLDER = 'RECOVERY-KEY';

/** Single-quoted for a POSIX shell when it holds anything beyond plain URL characters. */
function arg(v: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

export function agentCommand(c: CommandInput): string {
  const parts = ['gatehouse-agent', c.join ? 'join' : 'register', '--hub', c.hubUrl, '--gateway', c.gatewayId, '--key', c.key];
  if (c.join) parts.push('--recovery-key', RECOVERY_PLACEHOLDER);
  if (c.name.trim()) parts.push('--name', c.name.trim());
  parts.push('--allow', c.allow.trim() || 'https://intranet.example/');
  return parts.map((p, i) => (i < 2 ? p : arg(p))).join(' ');
}
