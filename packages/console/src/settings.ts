// How the console signs in, as the hub says in /console/config.json (packages/hub/src/http/console.ts).
export type ConsoleSettings = { mode: 'dev' } | { mode: 'entra'; clientId: string; authority: string; scopes: string[] };

export async function loadSettings(): Promise<ConsoleSettings> {
  const res = await fetch('/console/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`the hub did not give the console its settings (HTTP ${res.status})`);
  return (await res.json()) as ConsoleSettings;
}
