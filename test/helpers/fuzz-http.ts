// A raw HTTP/1.1 client for the fuzz suite: writes any bytes on a keep-alive socket and reads the answer with a
// small response parser of its own (Node's client refuses the requests the fuzz sends). Interim 1xx answers
// are collected and skipped; a HEAD, 204 or 304 answer has no body; otherwise chunked, Content-Length, or up to
// the close.
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  /** Header names lower-cased, each with every value it came with. */
  headers: Map<string, string[]>;
  body: Buffer;
  interim: number[];
  /** The server closed the connection after this answer (or said it would). */
  closes: boolean;
}

/** `partial`: bytes of an answer that did not complete; `start`: their beginning, for the report. */
export type RawOutcome =
  | { kind: 'answer'; answer: RawAnswer }
  | { kind: 'closed'; partial: number; start: string }
  | { kind: 'timeout'; partial: number; start: string }
  | { kind: 'unparseable'; why: string; head: string };

export class RawConn {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;
  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(port: number): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.setNoDelay(true);
      s.once('connect', () => resolve(new RawConn(s)));
      s.once('error', reject);
    });
  }

  get open(): boolean {
    return !this.ended && !this.socket.destroyed;
  }

  write(bytes: Buffer): void {
    if (this.open) this.socket.write(bytes);
  }

  /** Half-closes our side (an early close: the request ends here). */
  end(): void {
    if (this.open) this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  private start(): string {
    return this.buf.subarray(0, 400).toString('latin1');
  }

  /** The next answer; `head`: it answers a HEAD request. */
  async read(head: boolean, timeoutMs: number): Promise<RawOutcome> {
    const deadline = Date.now() + timeoutMs;
    const interim: number[] = [];
    for (;;) {
      const r = parse(this.buf, head, this.ended);
      if (r === 'bad') return { kind: 'unparseable', why: 'not an HTTP/1.1 answer', head: this.buf.subarray(0, 200).toString('latin1') };
      if (r !== undefined) {
        this.buf = this.buf.subarray(r.used);
        if (r.answer.status >= 100 && r.answer.status < 200 && r.answer.status !== 101) {
          interim.push(r.answer.status);
          continue;
        }
        r.answer.interim = interim;
        return { kind: 'answer', answer: r.answer };
      }
      if (this.ended) return { kind: 'closed', partial: this.buf.length, start: this.start() };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout', partial: this.buf.length, start: this.start() };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }
}

/** One answer parsed from the front of `buf`, undefined when more bytes are needed, 'bad' when it is not HTTP. */
function parse(buf: Buffer, head: boolean, ended: boolean): { answer: RawAnswer; used: number } | undefined | 'bad' {
  const eoh = buf.indexOf('\r\n\r\n');
  if (eoh === -1) return buf.length > 5 && !buf.subarray(0, 5).equals(Buffer.from('HTTP/')) ? 'bad' : undefined;
  const lines = buf.subarray(0, eoh).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
  if (!m) return 'bad';
  const status = Number(m[1]);
  const headers = new Map<string, string[]>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) return 'bad';
    const k = l.slice(0, i).trim().toLowerCase();
    headers.set(k, [...(headers.get(k) ?? []), l.slice(i + 1).trim()]);
  }
  const closes = (headers.get('connection') ?? []).some((v) => /\bclose\b/i.test(v));
  const start = eoh + 4;
  const answer = (body: Buffer, used: number) => ({ answer: { status, headers, body, interim: [], closes }, used });
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) return answer(Buffer.alloc(0), start);
  if ((headers.get('transfer-encoding') ?? []).some((v) => /chunked/i.test(v))) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol === -1) return undefined;
      const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
      if (!Number.isFinite(size)) return 'bad';
      if (size === 0) {
        const end = buf.indexOf('\r\n\r\n', eol);
        if (buf.subarray(eol, eol + 4).toString() === '\r\n\r\n') return answer(Buffer.concat(parts), eol + 4);
        return end === -1 ? undefined : answer(Buffer.concat(parts), end + 4);
      }
      if (buf.length < eol + 2 + size + 2) return undefined;
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  const cl = headers.get('content-length');
  if (cl) {
    const n = Number(cl[0]);
    if (!Number.isSafeInteger(n) || n < 0) return 'bad';
    return buf.length >= start + n ? answer(buf.subarray(start, start + n), start + n) : undefined;
  }
  // no framing: the body runs to the close
  return ended ? answer(buf.subarray(start), buf.length) : undefined;
}
