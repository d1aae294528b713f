// Bodies as the invoke route carries them (base64), and how to show one: pretty JSON, text, or a hex dump.
/** Largest file the console sends as a body (it travels base64 in a JSON request). */
export const MAX_FILE_BYTES = 25 * 1024 * 1024;
/** Bytes shown in a hex dump; the whole body is always downloadable. */
const HEX_SHOWN = 64 * 1024;

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export type Shown = { kind: 'json' | 'text' | 'hex'; text: string };

export function show(bytes: Uint8Array, contentType: string): Shown {
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  // Text with control characters other than tab and line ends is shown as bytes.
  if (text !== undefined && !/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
    if (/json/i.test(contentType) || /^\s*[{[]/.test(text)) {
      try {
        return { kind: 'json', text: JSON.stringify(JSON.parse(text), null, 2) };
      } catch {
        // not JSON after all: shown as text
      }
    }
    return { kind: 'text', text };
  }
  return {
    kind: 'hex',
    text: hexDump(bytes.subarray(0, HEX_SHOWN)) + (bytes.length > HEX_SHOWN ? `\n… ${bytes.length - HEX_SHOWN} more bytes (download them)` : ''),
  };
}

function hexDump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = Array.from(row, (x) => x.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join('\n');
}
