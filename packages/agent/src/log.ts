import { pino, type Logger } from 'pino';
import { LineOutput } from '@gatehouse/shared';
import { writeSync } from 'node:fs';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino(
    {
      name: 'gatehouse-agent',
      level,
      redact: {
        paths: ['credential', 'password', 'authorization', 'headers', '*.credential', '*.password', '*.authorization', '*.headers'],
        censor: '[redacted]',
      },
    },
    new LineOutput(stdoutWriter()),
  );
}

/** stdout for LineOutput. Opening process.stdout makes a pipe non-blocking (Node does that), so a log reader
 *  that falls behind gets EAGAIN instead of blocking the event loop. */
function stdoutWriter(): (buf: Buffer) => number {
  void process.stdout;
  return (buf) => writeSync(1, buf);
}
