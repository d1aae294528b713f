// Reconnect delays (SPEC section 6): 0, 1, 2, 5, 10, 30 s, then 30 s, each with up to 20 % jitter so a fleet
// of agents does not stampede a restarted hub.
export const BACKOFF_STEPS_MS = [0, 1000, 2000, 5000, 10_000, 30_000] as const;

export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = BACKOFF_STEPS_MS[Math.min(attempt, BACKOFF_STEPS_MS.length - 1)]!;
  return Math.round(base * (1 + 0.2 * random()));
}
