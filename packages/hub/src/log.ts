// JSON logs (pino). Code logs chosen fields only; redaction of fixed paths is the backstop for mistakes.
import { destination, pino, type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'authorization', 'password', 'credential', 'registrationKey', 'token', 'secret', 'headers', 'body',
  '*.authorization', '*.password', '*.credential', '*.registrationKey', '*.token', '*.secret', '*.headers', '*.body',
];

/** Asynchronous stdout: lines written while a write is in flight go out together (pino flushes at exit). */
export function createLogger(level: string, name = 'gatehouse-hub'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination({ dest: 1, sync: false }));
}
