// Per-stream credit windows (packages/shared/src/flow.ts): a bulk stream's window grows to a bound, a short
// call's never does, and a sender beyond its credit is caught whatever the window is.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { InboundBody, Limits, WriteGate, decodeFrame, encodeData, HUB_RECEIVES, FrameType } from '@gatehouse/shared';

/** A sender that honours credit, moving `total` bytes in chunks; returns the largest credit it was ever given. */
async function transfer(total: number): Promise<{ maxCredit: number; body: InboundBody; granted: () => number }> {
  let credit = Limits.streamWindowBytes;
  let granted = credit;
  let maxCredit = credit;
  const body = new InboundBody(Limits.streamWindowBytes, (n) => { credit += n; granted += n; maxCredit = Math.max(maxCredit, credit); }, Limits.maxStreamWindowBytes);
  body.attach(new Writable({ write: (_c, _e, cb) => cb() }));
  for (let sent = 0; sent < total;) {
    if (credit === 0) { await new Promise((r) => setImmediate(r)); continue; }
    const n = Math.min(credit, Limits.maxDataBytes, total - sent);
    expect(body.onData(Buffer.alloc(n))).toBe(true);
    credit -= n;
    sent += n;
  }
  await new Promise((r) => setImmediate(r));
  return { maxCredit, body, granted: () => granted };
}

describe('stream windows', () => {
  it('a bulk stream gets a larger window, never beyond the bound', async () => {
    const { maxCredit } = await transfer(16 * 1024 * 1024);
    expect(maxCredit).toBeGreaterThan(Limits.streamWindowBytes);
    expect(maxCredit).toBeLessThanOrEqual(Limits.maxStreamWindowBytes);
    expect(maxCredit).toBe(Limits.maxStreamWindowBytes);
  });

  it('a short call keeps the starting window', async () => {
    const { maxCredit } = await transfer(600 * 1024);
    expect(maxCredit).toBe(Limits.streamWindowBytes);
  });

  it('data beyond the grown window is still a violation', async () => {
    const { body, granted } = await transfer(16 * 1024 * 1024);
    // Everything granted so far has been sent and taken; one byte more than the remaining credit is refused.
    const remaining = granted() - 16 * 1024 * 1024;
    expect(body.onData(Buffer.alloc(remaining))).toBe(true);
    expect(body.onData(Buffer.alloc(1))).toBe(false);
  });
});

describe('Data frames on the wire', () => {
  it('a large chunk from the masking side leaves as two parts of one message that decode to the same frame', () => {
    const parts: Array<{ frame: Buffer; more: boolean }> = [];
    const gate = new WriteGate((frame, done, more) => { parts.push({ frame: Buffer.from(frame), more: more === true }); done(); }, 1 << 20, undefined, true);
    const chunk = Buffer.alloc(Limits.maxDataBytes, 9);
    gate.sendData(7, chunk);
    expect(parts.map((p) => p.more)).toEqual([true, false]);
    expect(parts[1]!.frame.length).toBe(chunk.length); // the chunk itself, not a copy behind a header
    const message = Buffer.concat(parts.map((p) => p.frame));
    expect(message.equals(encodeData(7, chunk))).toBe(true);
    const f = decodeFrame(message, HUB_RECEIVES);
    expect(f.type).toBe(FrameType.Data);
    expect(f.stream).toBe(7);
    // Small chunks, and every chunk on the unmasked side, stay one copied buffer.
    parts.length = 0;
    gate.sendData(9, Buffer.alloc(100, 1));
    new WriteGate((frame, done, more) => { parts.push({ frame, more: more === true }); done(); }, 1 << 20).sendData(9, chunk);
    expect(parts.map((p) => [p.more, p.frame.length])).toEqual([[false, 105], [false, chunk.length + 5]]);
  });
});

describe('delivery that fails before its sink is attached', () => {
  it('a body aborted before attach fails the sink at once (the caller is not left waiting)', async () => {
    const body = new InboundBody(Limits.streamWindowBytes, () => {}, Limits.maxStreamWindowBytes);
    expect(body.onData(Buffer.alloc(10))).toBe(true);
    body.abort(new Error('over the limit'));
    expect(body.takeIfComplete()).toBeUndefined();
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const failed = new Promise<Error>((r) => sink.on('error', r));
    body.attach(sink);
    expect((await failed).message).toBe('over the limit');
    expect(sink.destroyed).toBe(true);
  });
});
