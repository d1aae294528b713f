// The exact `gatehouse-agent` command that adds a member with a fresh registration key: `register` for a
// gateway's first member (it creates the gateway key pair), `join` for the next (it needs the recovery key that
// `register` printed, which only the admin holds).
export interface CommandInput {
  hubUrl: string;
  gatewayId: string;
  key: string;
  firstMember: boolean;
  allow: string;
  name: string;
}

/** Single-quoted for a POSIX shell when it holds anything beyond plain URL characters. */
function arg(v: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

export function agentCommand(c: CommandInput): string {
  const parts = ['gatehouse-agent', c.firstMember ? 'register' : 'join', '--hub', c.hubUrl, '--gateway', c.gatewayId, '--key', c.key];
  if (!c.firstMember) parts.push('--recovery-key', 'RECOVERY-KEY');
  if (c.name.trim()) parts.push('--name', c.name.trim());
  parts.push('--allow', c.allow.trim() || 'https://intranet.example/');
  return parts.map((p, i) => (i < 2 ? p : arg(p))).join(' ');
}
