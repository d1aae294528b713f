// Log output for hub and agent, written from the main thread (no worker-thread hand-off per line). Lines are
// gathered for up to `delayMs` (25 ms), or until 64 KiB wait (then they leave at the end of the event-loop
// turn), and go out in one write(2): one system call, and one wake-up of the log reader on its own CPU, for
// the access lines of many calls instead of one per call.
//
// A log reader that stops reading (full pipe) never stalls the relay: lines wait in memory up to a bound
// (`maxBufferedBytes`), then are dropped and counted, and the count is written as a line once output flows.
// The caller supplies the write: a synchronous write to a non-blocking descriptor (see stdoutWriter in hub
// and agent), which answers EAGAIN when the reader is behind. At exit whatever is buffered is written.

/** Writes some of `buf`, returns how many bytes it took; throws an error with code EAGAIN when it took none. */
export type SyncWrite = (buf: Buffer) => number;

const SOON_BYTES = 64 * 1024;

export class LineOutput {
  private parts: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retry: NodeJS.Timeout | undefined;
  private dropped = 0;
  private leftover: Buffer | undefined;
  private readonly flushNow = () => {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.flush(false);
  };

  constructor(
    private readonly writeSome: SyncWrite,
    private readonly maxBufferedBytes = 8 * 1024 * 1024,
    private readonly delayMs = 25,
  ) {
    process.once('exit', () => this.flush(true));
  }

  /** pino's destination interface: one serialized line (with its newline). */
  write(line: string): boolean {
    if (this.bytes + line.length > this.maxBufferedBytes) {
      this.dropped++;
      return true;
    }
    this.parts.push(line);
    this.bytes += line.length;
    if (this.retry) return true; // the reader is behind; the retry writes these too
    if (this.bytes >= SOON_BYTES) this.immediate ??= setImmediate(this.flushNow);
    else this.timer ??= setTimeout(this.flushNow, this.delayMs).unref();
    return true;
  }

  /** Writes what is buffered. `final`: at exit, try a few times even if the reader is slow. */
  flush(final: boolean): void {
    let text = this.parts.join('');
    this.parts = [];
    if (this.dropped > 0) {
      text = `${JSON.stringify({ level: 40, time: Date.now(), msg: `log output was not read in time: ${this.dropped} lines dropped` })}\n${text}`;
      this.dropped = 0;
    }
    let buf = this.leftover ? Buffer.concat([this.leftover, Buffer.from(text, 'utf8')]) : Buffer.from(text, 'utf8');
    this.leftover = undefined;
    for (let attempt = 0; buf.length > 0; attempt++) {
      try {
        buf = buf.subarray(this.writeSome(buf));
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
          buf = buf.subarray(buf.length);
          break;
        } // output closed
        if (final && attempt < 50) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
          continue;
        }
        break;
      }
    }
    this.bytes = buf.length;
    if (buf.length > 0 && !final) {
      // The reader is behind: keep the rest first in line and try again shortly.
      this.leftover = buf;
      this.retry ??= setTimeout(() => {
        this.retry = undefined;
        this.flush(false);
      }, 20).unref();
    }
  }
}
