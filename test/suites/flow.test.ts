// Per-stream credit windows (packages/shared/src/flow.ts): a bulk stream's window grows to a bound, a short
// call's never does, and a sender beyond its credit is caught whatever the window is. Data frames written
// straight to the socket (no copy) decode, with ws's own Receiver, to the same messages as copied ones.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import * as wsModule from 'ws';
import { InboundBody, Limits, WriteGate, decodeFrame, directDataWriter, encodeData, encodeFrame, HUB_RECEIVES, FrameType } from '@gatehouse/shared';
import { patternBytes } from '../helpers/echo-server.js';

/** A sender that honours credit, moving `total` bytes in chunks; returns the largest credit it was ever given. */
async function transfer(total: number): Promise<{ maxCredit: number; body: InboundBody; granted: () => number }> {
  let credit = Limits.streamWindowBytes;
  let granted = credit;
  let maxCredit = credit;
  const body = new InboundBody(
    Limits.streamWindowBytes,
    (n) => {
      credit += n;
      granted += n;
      maxCredit = Math.max(maxCredit, credit);
    },
    Limits.maxStreamWindowBytes,
  );
  body.attach(new Writable({ write: (_c, _e, cb) => cb() }));
  for (let sent = 0; sent < total; ) {
    if (credit === 0) {
      await new Promise((r) => setImmediate(r));
      continue;
    }
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

// ws's own frame writer and parser (exported at run time; @types/ws does not declare them).
const { Receiver, Sender } = wsModule as unknown as {
  Receiver: new (o: { isServer: boolean; maxPayload: number }) => NodeJS.EventEmitter & { write(b: Buffer, cb: () => void): void };
  Sender: { frame(data: Buffer, options: object): Buffer[] };
};

describe('Data frames on the wire', () => {
  /** A WriteGate over a fake socket whose bytes a real ws Receiver decodes; rawSend frames with ws's own Sender. */
  function wire(masked: boolean) {
    const bytes: Buffer[] = [];
    const writes: Uint8Array[] = [];
    const socket = {
      write: (b: Uint8Array, cb?: (err?: Error | null) => void) => {
        writes.push(b);
        bytes.push(Buffer.from(b));
        cb?.();
        return true;
      },
    };
    const ws = { readyState: 1 };
    const zero = Buffer.alloc(4);
    const gate = new WriteGate(
      (frame, done) => {
        for (const part of Sender.frame(frame, {
          fin: true,
          opcode: 2,
          mask: masked,
          maskBuffer: zero,
          generateMask: (m: Buffer) => {
            m.fill(0);
          },
          readOnly: false,
          rsv1: false,
        }))
          socket.write(part);
        done();
      },
      1 << 30,
      undefined,
      directDataWriter(ws, () => socket, masked),
    );
    const received: Buffer[] = [];
    const receiver = new Receiver({ isServer: masked, maxPayload: Limits.maxFrameBytes });
    receiver.on('message', (data: Buffer) => received.push(data));
    const deliver = () =>
      new Promise<Buffer[]>((resolve, reject) => {
        receiver.on('error', reject);
        receiver.write(Buffer.concat(bytes), () => resolve(received));
      });
    return { gate, writes, ws, deliver };
  }

  for (const masked of [false, true]) {
    it(`${masked ? 'agent (zero masking key)' : 'hub (unmasked)'}: every chunk size decodes to the same frame, large chunks are not copied`, async () => {
      const { gate, writes, deliver } = wire(masked);
      const chunks = [patternBytes(100, 1), patternBytes(20_000, 2), patternBytes(Limits.maxDataBytes, 3), patternBytes(65_531, 4), patternBytes(65_530, 5)];
      for (const [i, c] of chunks.entries()) gate.sendData(i + 1, c);
      gate.send(encodeFrame({ type: FrameType.End, stream: 9 }));
      // the large chunks went to the socket as they were: the very same buffers
      for (const c of chunks.slice(1)) expect(writes.some((w) => w === c)).toBe(true);
      expect(writes.some((w) => w === chunks[0])).toBe(false);
      const messages = await deliver();
      expect(messages).toHaveLength(chunks.length + 1);
      chunks.forEach((c, i) => {
        expect(messages[i]!.equals(encodeData(i + 1, c))).toBe(true);
        const f = decodeFrame(messages[i]!, HUB_RECEIVES);
        expect(f.type === FrameType.Data && f.stream === i + 1 && Buffer.from(f.data).equals(c)).toBe(true);
      });
      expect(decodeFrame(messages[chunks.length]!, HUB_RECEIVES).type).toBe(FrameType.End);
    });
  }

  it('writes nothing once the WebSocket is no longer open', () => {
    const { gate, writes, ws } = wire(true);
    ws.readyState = 2;
    gate.sendData(1, Buffer.alloc(Limits.maxDataBytes));
    expect(writes).toHaveLength(0);
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
