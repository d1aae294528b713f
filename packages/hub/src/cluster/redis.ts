// The Redis connection of a hub in a cluster. Commands fail at once while Redis is away (no offline queue):
// callers get a coded 503, /readyz turns red, and the client keeps reconnecting in the background.
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export async function connectRedis(url: string, log: Logger): Promise<Redis> {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(200 * times, 2000),
  });
  let down = false;
  redis.on('error', (err: Error) => {
    if (!down) {
      down = true;
      log.warn({ err: err.message }, 'Redis unreachable');
    }
  });
  redis.on('ready', () => {
    if (down) log.info('Redis reachable again');
    down = false;
  });
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 5000); // start anyway: /readyz says whether Redis is there
    redis.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
  return redis;
}
