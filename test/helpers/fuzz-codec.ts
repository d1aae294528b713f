// The codec oracle: decode one (mutated) frame and judge the outcome. Accepted: a frame of the promised shape
// that survives encode -> decode unchanged. Refused: the codec's ProtocolError with a known close code. Anything
// else (another exception, an allocation larger than the input, a slow decode) is a failure.
import { isDeepStrictEqual } from 'node:util';
import { CloseCode, ProtocolError, decodeFrame, encodeFrame, type Frame } from '@gatehouse/shared';
import { shapeProblem } from './fuzz-frames.js';

const CLOSE_CODES = new Set<number>(Object.values(CloseCode));

export type Verdict = { kind: 'accepted'; frame: Frame; reencoded: boolean } | { kind: 'refused'; closeCode: number } | { kind: 'failure'; why: string };

/** The largest Buffer asked for while `fn` runs (Buffer.alloc, allocUnsafe, allocUnsafeSlow). */
function largestAllocation<T>(fn: () => T): { value: T; largest: number } {
  const b = Buffer as unknown as Record<'alloc' | 'allocUnsafe' | 'allocUnsafeSlow', (n: number, ...rest: unknown[]) => Buffer>;
  const saved = { alloc: b.alloc, allocUnsafe: b.allocUnsafe, allocUnsafeSlow: b.allocUnsafeSlow };
  let largest = 0;
  for (const k of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const orig = saved[k];
    b[k] = (n: number, ...rest: unknown[]) => {
      if (n > largest) largest = n;
      return orig.call(Buffer, n, ...rest);
    };
  }
  try {
    return { value: fn(), largest };
  } finally {
    Object.assign(b, saved);
  }
}

function decodeOnce(bytes: Buffer, accepted: ReadonlySet<number>, version: number): Frame | Verdict {
  try {
    const r = largestAllocation(() => decodeFrame(bytes, accepted, version));
    if (r.largest > bytes.length) return { kind: 'failure', why: `decode allocated ${r.largest} bytes for a ${bytes.length}-byte frame` };
    return r.value;
  } catch (err) {
    if (!(err instanceof ProtocolError) || err.code !== 'GATEHOUSE_PROTOCOL_ERROR')
      return { kind: 'failure', why: `decode threw ${(err as Error)?.name}: ${(err as Error)?.message}` };
    if (!CLOSE_CODES.has(err.closeCode)) return { kind: 'failure', why: `ProtocolError with close code ${err.closeCode}` };
    return { kind: 'refused', closeCode: err.closeCode };
  }
}

/** `slowMs`: a decode taking longer than this is a failure (a decode is synchronous: a loop would hang the suite). */
export function judgeDecode(bytes: Buffer, accepted: ReadonlySet<number>, version: number, slowMs = 2000): Verdict {
  const started = performance.now();
  const first = decodeOnce(bytes, accepted, version);
  const ms = performance.now() - started;
  if (ms > slowMs) return { kind: 'failure', why: `decode took ${Math.round(ms)} ms` };
  if (!('type' in first)) return first;
  const frame = first;
  const problem = shapeProblem(frame, accepted);
  if (problem) return { kind: 'failure', why: `decoded frame has a bad shape: ${problem}` };
  // Round trip: what was accepted encodes again (or is refused as too large: a JSON escape or an invalid UTF-8
  // byte can grow when written back) and decodes to the same frame.
  let again: Buffer;
  try {
    again = encodeFrame(frame, version);
  } catch (err) {
    if (err instanceof ProtocolError) return { kind: 'accepted', frame, reencoded: false };
    return { kind: 'failure', why: `encode of an accepted frame threw ${(err as Error)?.name}: ${(err as Error)?.message}` };
  }
  let back: Frame;
  try {
    back = decodeFrame(again, accepted, version);
  } catch (err) {
    return { kind: 'failure', why: `the re-encoded frame was refused: ${(err as Error)?.message}` };
  }
  if (!isDeepStrictEqual(back, frame))
    return { kind: 'failure', why: `round trip changed the frame: ${JSON.stringify(frame).slice(0, 200)} -> ${JSON.stringify(back).slice(0, 200)}` };
  return { kind: 'accepted', frame, reencoded: true };
}
