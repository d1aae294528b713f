// Per-connection fixed-window throttle shared by every hub through Redis: one atomic script per call, so
// the count is exact whichever hub answers. Redis unreachable is a coded 503, never an unlimited throttle.
import type { Redis } from 'ioredis';
import { GatehouseError } from '@gatehouse/shared';
import type { Throttle } from './memory-throttle.js';

const SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}
`;

export function createRedisThrottle(redis: Redis, limit: number, periodMs: number): Throttle {
  return {
    async take(key) {
      let r: [number, number];
      try {
        r = (await redis.eval(SCRIPT, 1, `gh:rl:${key}`, String(periodMs))) as [number, number];
      } catch {
        throw new GatehouseError('ServiceUnavailable', 'hub -> Redis: the shared throttle is unreachable, so no call can be counted');
      }
      const [count, ttl] = r;
      const resetSec = Math.max(1, Math.ceil(ttl / 1000));
      return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetSec };
    },
  };
}
