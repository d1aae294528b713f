// Runs fuzzed requests against a listening hub over raw keep-alive sockets, a few at a time, and judges every
// answer. Each case's bytes come from (seed, part, index) alone, so a failure names the case to replay.
import { caseRng, type Rng } from './fuzz-rng.js';
import { RawConn, type RawAnswer } from './fuzz-http.js';
import type { FuzzRequest } from './fuzz-invoke.js';
import type { Judgement } from './fuzz-oracle.js';

export interface FuzzRun {
  part: string;
  seed: number;
  count: number;
  /** Connections used at once. */
  concurrency: number;
  port: number;
  make(rng: Rng): FuzzRequest;
  judge(a: RawAnswer, req: FuzzRequest): Judgement;
  /** No answer within this is a hang (well under the hub's own call timeout). */
  answerTimeoutMs: number;
  /** Replay: only these cases, one at a time, each request and outcome printed in full. */
  only?: number[];
  /** Called after each replayed case (to print what the processes did). */
  afterEach?: (i: number) => void;
}

export interface FuzzResult {
  sent: number;
  /** Answers by `status code`. */
  tally: Record<string, number>;
  failures: string[];
  /** Coded 5xx answers: allowed by the contract, listed for a human to look at. */
  /** Keep-alive connections the hub had closed before our request reached it (sent again on a fresh one). */
  resent: number;
  slowestMs: number;
}

const KEEP = 25;

export async function runFuzz(o: FuzzRun): Promise<FuzzResult> {
  const r: FuzzResult = { sent: 0, tally: {}, failures: [], resent: 0, slowestMs: 0 };
  const count = (k: string) => {
    r.tally[k] = (r.tally[k] ?? 0) + 1;
  };
  const note = (list: string[], i: number, why: string, req: FuzzRequest) => {
    if (list.length < KEEP) list.push(`${o.part} case ${i} (GATEHOUSE_FUZZ_SEED=${o.seed}): ${why}\n    request ${JSON.stringify(req.label.slice(0, 300))}`);
  };
  let next = 0;
  const cases = o.only ?? Array.from({ length: o.count }, (_, i) => i);
  const worker = async () => {
    let conn: RawConn | undefined;
    let used = 0;
    for (let k = next++; k < cases.length; k = next++) {
      const i = cases[k]!;
      const req = o.make(caseRng(o.seed, o.part, i));
      if (o.only) process.stdout.write(`[fuzz] ${o.part} case ${i}: ${JSON.stringify(req.bytes.toString('latin1'))}\n`);
      for (let attempt = 0; ; attempt++) {
        if (req.fresh || !conn || !conn.open) {
          conn?.close();
          conn = await RawConn.open(o.port);
          used = 0;
        }
        const reused = used++ > 0;
        const started = performance.now();
        conn.write(req.bytes);
        if (req.earlyClose) conn.end();
        const out = await conn.read(req.head, o.answerTimeoutMs);
        r.slowestMs = Math.max(r.slowestMs, performance.now() - started);
        if (out.kind === 'closed' && out.partial === 0 && reused && attempt === 0 && !req.earlyClose) {
          r.resent++;
          conn.close();
          conn = undefined;
          continue;
        }
        r.sent++;
        if (out.kind === 'answer') {
          const j = o.judge(out.answer, req);
          count(j.key);
          if (j.problem) note(r.failures, i, `${j.key}: ${j.problem}`, req);
        } else if (out.kind === 'timeout') {
          count('no answer (timeout)');
          note(r.failures, i, `no answer within ${o.answerTimeoutMs} ms (${out.partial} bytes of one: ${JSON.stringify(out.start)})`, req);
        } else if (out.kind === 'unparseable') {
          count('unparseable');
          note(r.failures, i, `answer is not HTTP/1.1: ${JSON.stringify(out.head)}`, req);
        } else if (req.earlyClose) {
          count('closed (we closed first)');
        } else if (req.mayClose && out.partial === 0) {
          count('closed (body framing broke mid-call)');
        } else {
          count(out.partial ? 'closed mid-answer' : 'closed without an answer');
          note(
            r.failures,
            i,
            out.partial ? `connection closed after ${out.partial} bytes of an answer: ${JSON.stringify(out.start)}` : 'connection closed without an answer',
            req,
          );
        }
        if (o.only) {
          process.stdout.write(
            `[fuzz]   -> ${out.kind === 'answer' ? `${out.answer.status} ${JSON.stringify([...out.answer.headers])} ${JSON.stringify(out.answer.body.subarray(0, 500).toString('latin1'))}` : JSON.stringify(out)}\n`,
          );
          o.afterEach?.(i);
        }
        if (req.fresh || out.kind !== 'answer' || out.answer.closes) {
          conn.close();
          conn = undefined;
        }
        break;
      }
    }
    conn?.close();
  };
  await Promise.all(Array.from({ length: o.only ? 1 : o.concurrency }, worker));
  return r;
}
