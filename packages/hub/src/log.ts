// JSON logs (pino). Code logs chosen fields only; redaction of fixed paths is the backstop for mistakes.
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { LineOutput } from '@gatehouse/shared';
import { writeSync } from 'node:fs';

export type { Logger };

export const REDACT_PATHS = [
  'authorization',
  'password',
  'credential',
  'registrationKey',
  'token',
  'secret',
  'headers',
  'body',
  '*.authorization',
  '*.password',
  '*.credential',
  '*.registrationKey',
  '*.token',
  '*.secret',
  '*.headers',
  '*.body',
];

/** Lines to stdout, gathered into few writes (LineOutput). */
export function createLogger(level: string, name = 'gatehouse-hub'): Logger {
  const out = new LineOutput(stdoutWriter());
  const log = pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, out);
  outputs.set(log, { out, name });
  return log;
}

const outputs = new WeakMap<Logger, { out: LineOutput; name: string }>();

/** What the access line of a relayed call says: ids, method, host, status, sizes, time. Never headers or bodies. */
export type AccessFields = Record<string, string | number | boolean | null | undefined>;

export type AccessLine = (requestId: string, client: string | undefined, fields: AccessFields) => void;

/**
 * The access log ("call done", one line per relayed call): the request id, the address the caller's connection
 * came from (`client`), then the route's fields. Its fields are chosen by our code and hold no secrets, so on a
 * logger from createLogger the line is written directly, in pino's format, without a child logger and the
 * redaction pass (about 20 µs per call, the largest single cost of a small relayed call).
 */
export function accessLogger(log: Logger): AccessLine {
  const fast = outputs.get(log);
  if (!fast) return (requestId, client, fields) => log.info(Object.assign({ requestId, client }, fields), 'call done');
  const { out, name } = fast;
  const fixed = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},"name":${JSON.stringify(name)},"requestId":`;
  return (requestId, client, fields) => {
    if (!log.isLevelEnabled('info')) return;
    const rest = JSON.stringify(fields);
    const from = client === undefined ? '' : `,"client":${JSON.stringify(client)}`;
    out.write(
      `{"level":30,"time":${Date.now()}${fixed}${JSON.stringify(requestId)}${from}${rest.length > 2 ? `,${rest.slice(1, -1)}` : ''},"msg":"call done"}\n`,
    );
  };
}

/** stdout for LineOutput. Opening process.stdout makes a pipe non-blocking (Node does that), so a log reader
 *  that falls behind gets EAGAIN instead of blocking the event loop. */
function stdoutWriter(): (buf: Buffer) => number {
  void process.stdout;
  return (buf) => writeSync(1, buf);
}

/** How many lines of one kind a LineBudget writes per interval, and the interval. */
export const LOG_BUDGET = { lines: 100, intervalMs: 10_000 } as const;

/**
 * Lines that anyone can cause (a refused token, a request the HTTP parser refuses), written at most
 * LOG_BUDGET.lines per interval: past it they are counted, and one line at the interval's end says how many were
 * left out. A stranger's flood then costs the log a bounded number of lines, however fast it comes (red team,
 * session 17: an unsigned token with a 22,000-character `alg` made one 22 KB line per request, 22 MB/s).
 */
export class LineBudget {
  private written = 0;
  private skipped = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly what: string,
    private readonly budget: { lines: number; intervalMs: number } = LOG_BUDGET,
  ) {}

  /** Whether a line may be written now (the caller writes it, with its own logger); when not, it is counted. */
  allow(): boolean {
    this.arm();
    if (this.written < this.budget.lines) {
      this.written++;
      return true;
    }
    this.skipped++;
    return false;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.skipped > 0)
        this.log.warn(
          { skipped: this.skipped, intervalMs: this.budget.intervalMs, limit: this.budget.lines },
          `${this.what}: more lines than the log budget, not written`,
        );
      this.written = 0;
      this.skipped = 0;
    }, this.budget.intervalMs);
    this.timer.unref();
  }
}

/** A LineBudget per key (a tenant): one key's flood of lines is held to its own budget and leaves the others'
 *  lines written. At most `maxKeys` budgets; past it the least recently used is dropped (a line it had skipped is
 *  then counted in no summary). */
export class KeyedLineBudgets {
  private readonly budgets = new Map<string, LineBudget>();

  constructor(
    private readonly log: Logger,
    private readonly what: string,
    private readonly maxKeys = 10_000,
  ) {}

  allow(key: string): boolean {
    let b = this.budgets.get(key);
    if (b) this.budgets.delete(key);
    else {
      b = new LineBudget(this.log, `${this.what} (${key})`);
      if (this.budgets.size >= this.maxKeys) this.budgets.delete(this.budgets.keys().next().value!);
    }
    this.budgets.set(key, b);
    return b.allow();
  }
}
