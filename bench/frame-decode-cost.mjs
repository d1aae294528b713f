// What one agent frame costs the hub to decode (red-team finding B2, heavy frames): per frame, and per KiB of JSON.
// Run after `npm run build`: node bench/frame-decode-cost.mjs
import { FrameType, HUB_RECEIVES, decodeFrame, encodeFrame } from '../packages/shared/dist/index.js';

const header = encodeFrame({ type: FrameType.GoAway, stream: 0, msg: { reason: 'x' } }).subarray(0, 5);
const raw = (type, stream, json) => {
  const h = Buffer.from(header);
  h[0] = type;
  h.writeUInt32BE(stream, 1);
  return Buffer.concat([h, Buffer.from(json, 'utf8')]);
};
const members = (bytes) => {
  const parts = [];
  let len = 20;
  for (let i = 0; len < bytes; i++) {
    const s = `"k${i}":{}`;
    parts.push(s);
    len += s.length + 1;
  }
  return `{"reason":"r",${parts.join(',')}}`;
};
const pairs = (n, v) => JSON.stringify({ status: 200, headers: Array.from({ length: n }, (_, i) => [`h${i}`, v]) });
const cases = [
  ['PING (8 bytes)', encodeFrame({ type: FrameType.Ping, stream: 0, data: Buffer.alloc(8) }), 4],
  ['GOAWAY {"reason":"r"}', raw(FrameType.GoAway, 0, '{"reason":"r"}'), 4],
  ['GOAWAY 64,007 bytes of "kN":{} members', raw(FrameType.GoAway, 0, members(64_000)), 4],
  ['GOAWAY 8 KiB of "kN":{} members', raw(FrameType.GoAway, 0, members(8_000)), 4],
  ['GOAWAY reason of 1,024 \\u0001', raw(FrameType.GoAway, 0, JSON.stringify({ reason: '\u0001'.repeat(1024) })), 4],
  ['FAILURE message of 2,048 \\u0001', raw(FrameType.Failure, 1, JSON.stringify({ code: 'BadGateway', message: '\u0001'.repeat(2048) })), 4],
  ['RESPONSE_HEAD (JSON, v2) 1,000 short header lines', raw(FrameType.ResponseHead, 1, pairs(1000, 'v')), 2],
  ['RESPONSE_HEAD (JSON, v2) 1,000 lines, 60 KiB', raw(FrameType.ResponseHead, 1, pairs(1000, 'v'.repeat(50))), 2],
  [
    'RESPONSE_HEAD (binary, v4) 1,000 lines, 60 KiB',
    encodeFrame({ type: FrameType.ResponseHead, stream: 1, msg: JSON.parse(pairs(1000, 'v'.repeat(50))) }, 4),
    4,
  ],
];
for (const [name, frame, version] of cases) {
  let outcome = 'decoded';
  const n = frame.length > 4096 ? 300 : 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    try {
      decodeFrame(frame, HUB_RECEIVES, version);
    } catch (err) {
      outcome = `refused (${err.message.slice(0, 60)})`;
    }
  }
  const us = ((performance.now() - t0) * 1000) / n;
  console.log(`${name}: ${frame.length} bytes, ${us.toFixed(1)} us a frame, ${((us * 1024) / frame.length).toFixed(1)} us a KiB; ${outcome}`);
}
