// Reconnect delays (SPEC section 6): 0, 1, 2, 5, 10, 30 s, then 30 s, each with up to 20 % jitter so a fleet
// of agents does not stampede a restarted hub. A hub that refused the upgrade with `Retry-After` (a 503 in a
// reconnect storm, a 429) is waited for instead of the next step: never less than it asks (nor than 1 s), never
// more than the last step (30 s), with the same jitter, so the fleet comes back spread as the hub paced it.
export const BACKOFF_STEPS_MS = [0, 1000, 2000, 5000, 10_000, 30_000] as const;
/** The longest an agent waits between attempts (the last step), whatever the hub asks. */
export const MAX_BACKOFF_MS = BACKOFF_STEPS_MS[BACKOFF_STEPS_MS.length - 1];

export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = BACKOFF_STEPS_MS[Math.min(attempt, BACKOFF_STEPS_MS.length - 1)]!;
  return Math.round(base * (1 + 0.2 * random()));
}

/** The least wait a `Retry-After` buys (the first step after 0): a refusal saying `Retry-After: 0`, from a hub or
 *  a proxy in front of it, made the agent dial again at once, every time, for as long as it was refused. */
export const MIN_RETRY_AFTER_MS = BACKOFF_STEPS_MS[1];

/** The wait before the next attempt: `retryAfterMs` (from the hub's refusal) when there is one, else the step.
 *  Whatever it is given, a whole number of ms from MIN_RETRY_AFTER_MS to MAX_BACKOFF_MS for a Retry-After (one that
 *  is not a finite number is not honoured). */
export function reconnectDelay(attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs)) return backoffDelay(attempt, random);
  const asked = Math.min(MAX_BACKOFF_MS, Math.max(MIN_RETRY_AFTER_MS, retryAfterMs));
  return Math.min(MAX_BACKOFF_MS, Math.round(asked * (1 + 0.2 * random())));
}

/** A `Retry-After` header in seconds (the form the hub sends), in ms; undefined when absent or not a plain
 *  number of seconds (an HTTP date is not honoured: the agent keeps its own step). */
export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || !/^\s*\d{1,6}\s*$/.test(v)) return undefined;
  return Math.min(MAX_BACKOFF_MS, Number(v) * 1000);
}
