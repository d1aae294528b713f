// The invoke answer `{"statusCode","headers","body"}` written as a stream: the head as soon as the response
// head arrives, then the body base64-encoded chunk by chunk, for answers over the 1 MiB invoke.ts reads whole.
import { Buffer } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';

export function envelopePrefix(statusCode: number, headers: Record<string, string>): Buffer {
  const head = JSON.stringify({ statusCode, headers, body: '' });
  return Buffer.from(head.slice(0, -2)); // up to and including the opening quote of "body"
}

/** Encodes bytes to base64 across chunk boundaries and closes the JSON document at the end. (The body
 *  limit is enforced upstream, where the call is: startCall's maxResponseBytes.) */
export class Base64Envelope extends Transform {
  private carry: Buffer = Buffer.alloc(0);

  constructor(prefix: Buffer) {
    super({ highWaterMark: 256 * 1024 });
    this.push(prefix);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = data.length - (data.length % 3);
    this.carry = Buffer.from(data.subarray(whole));
    if (whole > 0) this.push(data.subarray(0, whole).toString('base64'));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    cb(null, `${this.carry.toString('base64')}"}`);
  }
}
