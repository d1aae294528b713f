// Bounded fuzz (issue 21): mutated frames against the codec, every protocol version and both directions; then
// mutated invoke bodies and raw-route requests against a running hub and agent. Each part prints its seed;
// GATEHOUSE_FUZZ_SEED=N replays a run, GATEHOUSE_FUZZ_RUNS=K multiplies every count (docs/security-parts/fuzz.md).
import { describe, expect, it } from 'vitest';
import { FrameType } from '@gatehouse/shared';
import { announce, caseRng, fuzzScale, fuzzSeed, hexOf } from '../helpers/fuzz-rng.js';
import { mutate } from '../helpers/fuzz-mutate.js';
import { DIRECTIONS, FUZZ_VERSIONS, frameWithPayload, isJsonFrame, mutateJson, seedFrames } from '../helpers/fuzz-frames.js';
import { judgeDecode } from '../helpers/fuzz-codec.js';

const SEED = fuzzSeed();
const SCALE = fuzzScale();
/** At least 10^5 mutated frames in all, shared among every (version, direction). */
const CODEC_FRAMES = Math.ceil(100_000 * SCALE);

describe('codec fuzz', () => {
  it(`${CODEC_FRAMES} mutated frames, every version and direction: a valid typed frame or a coded ProtocolError, never anything else`, () => {
    announce('codec', SEED, CODEC_FRAMES);
    const combos = FUZZ_VERSIONS.flatMap((version) => Object.entries(DIRECTIONS).map(([dir, accepted]) => ({ version, dir, accepted })));
    const perCombo = Math.ceil(CODEC_FRAMES / combos.length);
    const failures: string[] = [];
    const tally = { accepted: 0, refused: 0, notReencoded: 0, cases: 0 };
    for (const { version, dir, accepted } of combos) {
      const part = `codec v${version} ${dir}`;
      const seeds = seedFrames(caseRng(SEED, part, -1), version, accepted, 8);
      for (let i = 0; i < perCombo; i++) {
        const rng = caseRng(SEED, part, i);
        const seed = rng.pick(seeds);
        let bytes: Buffer;
        let how: string;
        if (isJsonFrame(seed.frame.type, version) && rng.chance(0.3) && 'msg' in seed.frame) {
          bytes = frameWithPayload(seed.frame.type, seed.frame.stream, Buffer.from(mutateJson(rng, seed.frame.msg as unknown as Record<string, unknown>), 'utf8'));
          how = 'json';
        } else {
          const m = mutate(rng, seed.bytes, rng.pick(seeds).bytes);
          bytes = m.bytes;
          how = m.steps.join('+');
        }
        const v = judgeDecode(bytes, accepted, version);
        tally.cases++;
        if (v.kind === 'failure') {
          if (failures.length < 20) failures.push(`${part} case ${i} (seed ${SEED}, ${how}, type ${seed.frame.type}): ${v.why}\n  input ${hexOf(bytes)}`);
        } else if (v.kind === 'accepted') {
          tally.accepted++;
          if (!v.reencoded) tally.notReencoded++;
        } else tally.refused++;
      }
    }
    process.stdout.write(`[fuzz] codec: ${JSON.stringify(tally)}\n`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(tally.cases).toBeGreaterThanOrEqual(100_000 * Math.min(1, SCALE));
    // The mutations reach past the header checks: some frames are still accepted, many refused.
    expect(tally.accepted).toBeGreaterThan(tally.cases / 100);
    expect(tally.refused).toBeGreaterThan(tally.cases / 10);
  });

  it('fuzz finding: a JSON -0 in bodyLength or backendMs decodes as 0, so the frame round-trips (seed 1, codec v0 agent case 954)', () => {
    // Before: decoded as -0, which encodes back as 0: the codec handed on a value its own encoding cannot write.
    const head = { requestId: 'r', method: 'GET', url: 'http://x/', headers: [], bodyLength: 0, timeoutMs: 1000, credentials: null };
    const req = frameWithPayload(FrameType.RequestHead, 1, Buffer.from(JSON.stringify(head).replace('"bodyLength":0', '"bodyLength":-0')));
    const res = frameWithPayload(FrameType.ResponseHead, 1, Buffer.from('{"status":200,"headers":[],"backendMs":-0.0}'));
    for (const version of [0, 1, 2]) {
      for (const [bytes, accepted] of [[req, DIRECTIONS.agent], [res, DIRECTIONS.hub]] as const) {
        const v = judgeDecode(bytes, accepted, version);
        expect(v.kind, v.kind === 'failure' ? v.why : '').toBe('accepted');
        const msg = (v as { frame: { msg: { bodyLength?: number; backendMs?: number } } }).frame.msg;
        expect(Object.is(msg.bodyLength ?? msg.backendMs, 0)).toBe(true);
      }
    }
  });

  it('a declared length or count at its extreme allocates nothing and is refused at once', () => {
    // RESPONSE's head length, a binary head's string length and header count, each set to its largest value.
    const cases: Array<[string, Buffer, number]> = [];
    const resp = Buffer.alloc(5 + 4 + 6);
    resp[0] = FrameType.Response; resp.writeUInt32BE(1, 1);
    for (const n of [0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) { const b = Buffer.from(resp); b.writeUInt32BE(n, 5); cases.push([`RESPONSE head length ${n}`, b, 3], [`RESPONSE head length ${n} (JSON)`, b, 2]); }
    const head = Buffer.alloc(5 + 6 + 2);
    head[0] = FrameType.ResponseHead; head.writeUInt32BE(1, 1); head.writeUInt16BE(200, 5); head.writeUInt16BE(0xffff, 11);
    cases.push(['binary header count 65535', head, 3]);
    const str = Buffer.alloc(5 + 4 + 8 + 2);
    str[0] = FrameType.RequestHead; str.writeUInt32BE(1, 1); str.writeUInt32BE(1000, 5); str.writeDoubleBE(-1, 9); str.writeUInt16BE(0xffff, 17);
    cases.push(['binary string length 65535', str, 3]);
    for (const [name, bytes, version] of cases) {
      const accepted = bytes[0] === FrameType.RequestHead ? DIRECTIONS.agent : DIRECTIONS.hub;
      const v = judgeDecode(bytes, accepted, version, 200);
      expect(v.kind, `${name}: ${v.kind === 'failure' ? v.why : ''}`).toBe('refused');
    }
  });
});
