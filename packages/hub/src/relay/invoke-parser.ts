// Incremental reader for the invoke object {"method","url","headers","body"}. The `body` member (base64, the
// bulk of the bytes) is decoded as it arrives and never held as text; every other member is kept in a small
// "skeleton" with `"body": null` in its place and parsed with JSON.parse. So a 100 MiB body streams through
// the hub with memory bounded by the relay window.
import { Buffer } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { Limits } from '@gatehouse/shared';

/** The most members the invoke object's `headers` may have before the parse stops (red team B4). */
const MAX_HEADER_MEMBERS = 2 * Limits.maxHeaderLines;

export class InvokeParseError extends Error {
  constructor(
    readonly kind: 'invalid' | 'too-large',
    message: string,
  ) {
    super(message);
  }
}

export type ParseEvent =
  | { kind: 'body-start'; partial: Record<string, unknown> }
  | { kind: 'body-data'; data: Buffer }
  | { kind: 'done'; skeleton: Record<string, unknown> };

const B64_RUN = /^[A-Za-z0-9+/]*$/;
/** The connector's invoke object has these members and no others: a caller's own member (1 MB of `{"k0":{},…}`
 *  cost the hub 0.2-0.5 s of CPU per call, red team B4) is refused as soon as its name has been read. */
const MEMBERS: ReadonlySet<string> = new Set(['method', 'url', 'headers', 'body']);
/** The skeleton nests at most this deep: the invoke object, then its `headers` object (every value is a string). */
const MAX_DEPTH = 2;
const isJsonSpace = (c: string) => c === ' ' || c === '\n' || c === '\r' || c === '\t';
const ONLY_SPACE = /^[ \t\n\r]*$/;

export class InvokeParser {
  private readonly text = new StringDecoder('utf8');
  private skeleton = '';
  private depth = 0;
  private inStr = false;
  private esc = false;
  private expectKey = false;
  private afterColon = false;
  private capturingKey = false;
  private key = '';
  private lastKey = '';
  private inBody = false;
  private bodyEsc = false;
  private b64carry = '';
  private pads = 0;
  private b64chars = 0;
  private decoded = 0;
  private finished = false;
  private sawText = false;
  private sawBody = false;
  private headerMembers = 0;
  /** Members of the invoke object read so far. */
  private members = 0;

  constructor(
    private readonly maxSkeleton: number,
    private readonly maxBody: number,
  ) {}

  get decodedBytes(): number {
    return this.decoded;
  }

  feed(chunk: Buffer): ParseEvent[] {
    return this.scan(this.withoutBom(this.text.write(chunk)));
  }

  end(): ParseEvent[] {
    const events = this.scan(this.withoutBom(this.text.end()));
    if (!this.finished) throw new InvokeParseError('invalid', 'the body is not valid JSON');
    return events;
  }

  /** A UTF-8 byte order mark before the JSON (Windows tools write one, RFC 8259 lets a parser ignore it) is dropped. */
  private withoutBom(text: string): string {
    if (this.sawText || !text) return text;
    this.sawText = true;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }

  private scan(s: string): ParseEvent[] {
    const events: ParseEvent[] = [];
    let i = 0;
    let copyFrom = 0;
    // The next quote and backslash at or after `from`, searched natively and remembered: searching again for
    // each escape made a string full of escapes cost its length squared.
    let q = -2;
    let bs = -2;
    const nextStop = (from: number) => {
      if (q !== -1 && q < from) q = s.indexOf('"', from);
      if (bs !== -1 && bs < from) bs = s.indexOf('\\', from);
      if (q === -1) return bs === -1 ? s.length : bs;
      return bs !== -1 && bs < q ? bs : q;
    };
    const flush = (to: number) => {
      if (to > copyFrom) {
        this.skeleton += s.slice(copyFrom, to);
        if (this.skeleton.length > this.maxSkeleton)
          throw new InvokeParseError('too-large', `the invoke object without its body is over ${this.maxSkeleton} characters`);
      }
    };
    while (i < s.length) {
      if (this.inBody) {
        if (this.bodyEsc) {
          // The escapes base64 text can carry: \/ (some serializers escape the slash), and \n, \r, \t of text
          // wrapped into lines (the `base64` tool's output, MIME), which is ignored like spaces, as .NET's decoder does.
          if (s[i] !== '/' && s[i] !== 'n' && s[i] !== 'r' && s[i] !== 't') throw new InvokeParseError('invalid', 'body must be a base64 string');
          this.bodyEsc = false;
          if (s[i] === '/') this.b64(events, '/');
          i += 1;
          continue;
        }
        // Fast path: up to the closing quote (or the chunk's end) at once, escapes checked and removed with native
        // regular expressions (a loop per escape cost 0.2 s a MB of `\/`, and seconds for one large chunk).
        const quote = s.indexOf('"', i);
        const end = quote === -1 ? s.length : quote;
        let text = s.slice(i, end);
        const trailing = /\\+$/.exec(text)?.[0].length ?? 0;
        if (trailing % 2 === 1) {
          // an escaped quote is no base64; a backslash at the chunk's end escapes the next chunk's first character
          if (quote !== -1) throw new InvokeParseError('invalid', 'body must be a base64 string');
          text = text.slice(0, -1);
          this.bodyEsc = true;
        }
        if (text.includes('\\')) {
          if (/\\[^/nrt]/.test(text)) throw new InvokeParseError('invalid', 'body must be a base64 string');
          text = text.replace(/\\[nrt]/g, '').replaceAll('\\/', '/');
        }
        if (text) this.b64(events, text);
        i = end;
        if (i >= s.length) break;
        // closing quote: the body value ends; the skeleton continues after it
        this.b64end(events);
        this.inBody = false;
        i += 1;
        copyFrom = i;
        continue;
      }
      const c = s[i]!;
      if (this.finished) {
        if (!ONLY_SPACE.test(s.slice(i))) throw new InvokeParseError('invalid', 'the body is not valid JSON');
        break;
      }
      if (this.inStr) {
        if (this.esc) {
          this.esc = false;
          if (this.capturingKey) this.addKey(c);
          i += 1;
        } else if (c === '\\') {
          this.esc = true;
          if (this.capturingKey) this.addKey(c);
          i += 1;
        } else if (c === '"') {
          this.inStr = false;
          if (this.capturingKey) {
            this.capturingKey = false;
            this.lastKey = this.member(this.key);
            this.expectKey = false;
          }
          i += 1;
        } else {
          // a run of plain characters: skipped to the next quote or backslash with native search
          const stop = nextStop(i);
          if (this.capturingKey) this.addKey(s.slice(i, stop));
          i = stop;
        }
        continue;
      }
      switch (c) {
        case '"':
          if (this.depth === 1 && this.expectKey) {
            this.capturingKey = true;
            this.key = '';
          } else if (this.depth === 1 && this.afterColon && this.lastKey === 'body') {
            if (this.sawBody) throw new InvokeParseError('invalid', 'body must appear once');
            this.sawBody = true;
            // the body value starts: keep `null` in the skeleton instead
            flush(i);
            this.skeleton += 'null';
            this.afterColon = false;
            this.inBody = true;
            let partial: Record<string, unknown>;
            try {
              partial = JSON.parse(`${this.skeleton}}`) as Record<string, unknown>;
            } catch {
              throw new InvokeParseError('invalid', 'the body is not valid JSON');
            }
            events.push({ kind: 'body-start', partial });
            i += 1;
            copyFrom = i;
            continue;
          }
          this.afterColon = false;
          this.inStr = true;
          break;
        case '{':
        case '[':
          if (this.depth === 0) {
            if (c !== '{') throw new InvokeParseError('invalid', 'the body must be a JSON object');
            this.expectKey = true;
          }
          this.depth += 1;
          if (this.depth > MAX_DEPTH)
            throw new InvokeParseError('invalid', 'the invoke object nests too deep: method, url, body and each header value are strings');
          this.afterColon = false;
          break;
        case '}':
        case ']':
          this.depth -= 1;
          if (this.depth < 0) throw new InvokeParseError('invalid', 'the body is not valid JSON');
          if (this.depth === 0) {
            this.finished = true;
            flush(i + 1);
            copyFrom = i + 1;
            this.done(events);
          }
          break;
        case ':':
          if (this.depth === 1) this.afterColon = true;
          // Twice the relay's line limit: a bound on the parse, while the relay's own count (which adds the hub's
          // lines and names the total, relay/request-head.ts) answers the usual case of a few too many.
          else if (this.lastKey === 'headers' && ++this.headerMembers > MAX_HEADER_MEMBERS)
            throw new InvokeParseError(
              'invalid',
              `headers holds over ${MAX_HEADER_MEMBERS} members (the relay sends at most ${Limits.maxHeaderLines} header lines)`,
            );
          break;
        case ',':
          if (this.depth === 1) {
            this.expectKey = true;
            this.afterColon = false;
          }
          break;
        default:
          if (!isJsonSpace(c)) this.afterColon = false;
      }
      i += 1;
    }
    if (!this.inBody && !this.finished) flush(s.length);
    return events;
  }

  private addKey(text: string): void {
    this.key += text;
    if (this.key.length > 256) throw new InvokeParseError('invalid', 'member name too long');
  }

  /** The member name as JSON spells it (escapes decoded), refused unless the invoke object has such a member. */
  private member(raw: string): string {
    let name = raw;
    if (raw.includes('\\')) {
      try {
        name = JSON.parse(`"${raw}"`) as string;
      } catch {
        throw new InvokeParseError('invalid', 'the body is not valid JSON');
      }
    }
    this.members += 1;
    if (!MEMBERS.has(name)) {
      // Named by position, never by its text: a member name is the caller's text and may be anything (a header
      // name and value pasted one level up, a token), and messages never repeat such text. A known member spelled
      // in another case is the usual mistake, and says so.
      const known = [...MEMBERS].find((m) => m === name.toLowerCase());
      throw new InvokeParseError(
        'invalid',
        known
          ? `member ${this.members} of the invoke object is ${known} in another case: member names are case-sensitive (method, url, headers, body)`
          : `member ${this.members} of the invoke object is not one it has: it takes method, url, headers and body, no others`,
      );
    }
    return name;
  }

  private done(events: ParseEvent[]): void {
    let skeleton: unknown;
    try {
      skeleton = JSON.parse(this.skeleton);
    } catch {
      throw new InvokeParseError('invalid', 'the body is not valid JSON');
    }
    if (typeof skeleton !== 'object' || skeleton === null || Array.isArray(skeleton)) throw new InvokeParseError('invalid', 'the body must be a JSON object');
    events.push({ kind: 'done', skeleton: skeleton as Record<string, unknown> });
  }

  private b64(events: ParseEvent[], text: string): void {
    const run = text.includes(' ') ? text.replace(/ /g, '') : text;
    if (!run) return;
    // '=' is allowed only as the final one or two characters of the whole value
    if (this.pads > 0) {
      if (!/^=*$/.test(run)) throw new InvokeParseError('invalid', 'body must be a base64 string');
      this.pads += run.length;
    } else if (!B64_RUN.test(run)) {
      const m = /^[A-Za-z0-9+/]*(=*)$/.exec(run);
      if (!m) throw new InvokeParseError('invalid', 'body must be a base64 string');
      this.pads = m[1]!.length;
    }
    if (this.pads > 2) throw new InvokeParseError('invalid', 'body must be a base64 string');
    this.b64chars += run.length;
    const all = this.b64carry + run;
    const whole = all.length - (all.length % 4);
    this.b64carry = all.slice(whole);
    if (whole > 0) this.emit(events, Buffer.from(all.slice(0, whole), 'base64'));
  }

  private b64end(events: ParseEvent[]): void {
    if (this.b64chars % 4 !== 0) throw new InvokeParseError('invalid', 'body must be a base64 string');
    if (this.b64carry) this.emit(events, Buffer.from(this.b64carry, 'base64'));
    this.b64carry = '';
  }

  private emit(events: ParseEvent[], data: Buffer): void {
    if (data.length === 0) return;
    this.decoded += data.length;
    if (this.decoded > this.maxBody) throw new InvokeParseError('too-large', `the body is over the ${this.maxBody}-byte limit`);
    events.push({ kind: 'body-data', data });
  }
}
