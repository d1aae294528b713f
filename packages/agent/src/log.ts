import { destination, pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    name: 'gatehouse-agent', level,
    redact: { paths: ['credential', 'password', 'authorization', 'headers', '*.credential', '*.password', '*.authorization', '*.headers'], censor: '[redacted]' },
  }, destination({ dest: 1, sync: false }));
}
