// The hub-to-hub relay's envelope: what a relay's body starts with (a 4-byte length, then the call's head as JSON,
// signed), how the receiving hub reads it, and the nonces that keep a captured relay from being sent again.
// Carried as described in hub-relay.ts.
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GatehouseError, type RequestHeadMessage } from '@gatehouse/shared';
import { signatureChecks, signatureOf } from './signing.js';

export const RELAY_PATH = '/internal/v1/relay';
export const SIG = 'x-gatehouse-relay-signature';
export const ERR = 'x-gatehouse-relay-error';
export const BACKEND = 'x-gatehouse-relay-backend-ms';
/** The serving hub's signature of its answer: HMAC-SHA256 under the cluster secret over the relay's nonce and
 *  the answer's status (a service's answer) or error code (the hub's own), so only a hub of the cluster that
 *  took this very relay can answer it. */
export const ANSWER_SIG = 'x-gatehouse-relay-answer-signature';
const ANSWER_DOMAIN = 'gatehouse-relay-answer-v1';
export const answerSignature = (secret: string, nonce: string, outcome: number | string): string => signatureOf(secret, ANSWER_DOMAIN, [nonce, outcome]);
export const answerChecks = (secret: string, nonce: string, outcome: number | string, sig: unknown): boolean =>
  signatureChecks(secret, ANSWER_DOMAIN, [nonce, outcome], sig);

/** `to`: the advertised URL of the hub the relay is for; `ts`: when it was signed (ms); `nonce`: used once. */
export interface RelayEnvelope {
  gatewayId: string;
  memberId: string;
  head: RequestHeadMessage;
  to: string;
  ts: number;
  nonce: string;
  /** The caller's route, for the serving hub's phase metrics and access line (absent: invoke). */
  route?: 'invoke' | 'proxy';
}

/** How far a relay's signing time may be from the receiving hub's clock (both ways). */
export const MAX_AGE_MS = 60_000;
/** Largest head a hub reads before it has checked the signature (a head is at most the relay frame's 64 KiB of
 *  JSON, plus the envelope's own fields), and how long it waits for it. */
const MAX_ENVELOPE_BYTES = 80 * 1024;
const ENVELOPE_WAIT_MS = 30_000;

/** The nonces of the relays a hub has taken while their signing time is acceptable: a second use is refused.
 *  Two generations of 2 * MAX_AGE_MS each: a nonce is remembered for at least as long as its relay could pass
 *  the age check (at most 2 * MAX_AGE_MS after it was taken). */
export class NonceGuard {
  private current = new Set<string>();
  private previous = new Set<string>();
  private rotatedAt = Date.now();

  /** False when the nonce was seen before. */
  take(nonce: string): boolean {
    if (Date.now() - this.rotatedAt >= 2 * MAX_AGE_MS) {
      this.previous = this.current;
      this.current = new Set();
      this.rotatedAt = Date.now();
    }
    if (this.current.has(nonce) || this.previous.has(nonce)) return false;
    this.current.add(nonce);
    return true;
  }
}

export const sign = (secret: string, payload: Buffer) => createHmac('sha256', secret).update(payload).digest('base64url');

/** Hub B: the envelope at the start of a relay's body, and the rest of the body (the service's). `release` lets
 *  go of the request without destroying it, so the hub can drop what nobody reads (call it when the answer is over). */
export async function readEnvelope(req: IncomingMessage): Promise<{ envelope: Buffer; rest: AsyncIterable<Buffer>; release: () => void }> {
  const source = (req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const refused = (why: string) => new GatehouseError('Unauthorized', `hub -> hub: ${why}`);
  // Chunks are kept and joined once the head is whole (or its length known): joining on every chunk cost the
  // square of the head's size, and this is read before the signature is checked, from anyone.
  const chunks: Buffer[] = [];
  let length = 0;
  let got: Buffer = Buffer.alloc(0);
  const joined = (): Buffer => {
    if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks, length));
    return chunks[0] ?? got;
  };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(refused(`the relay's head did not arrive within ${ENVELOPE_WAIT_MS / 1000} s`)), ENVELOPE_WAIT_MS);
  });
  try {
    let need = 4;
    while (length < need) {
      const next = await Promise.race([source.next(), late]);
      if (next.done) throw refused('the relay ended before its head');
      chunks.push(next.value);
      length += next.value.length;
      if (need === 4 && length >= 4) {
        const declared = joined().readUInt32BE(0);
        if (declared > MAX_ENVELOPE_BYTES) throw refused("the relay's head is too large");
        need = 4 + declared;
      }
    }
    got = joined();
  } finally {
    clearTimeout(timer);
  }
  const end = 4 + got.readUInt32BE(0);
  const left = got.subarray(end);
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (left.length) yield left;
      for (let n = await source.next(); !n.done; n = await source.next()) yield n.value;
    } finally {
      // The relay stopped reading early (a service that answered before the body's end): the hub drops the rest.
      await source.return?.();
    }
  }
  return { envelope: got.subarray(4, end), rest: rest(), release: () => void source.return?.() };
}
