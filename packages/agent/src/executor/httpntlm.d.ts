// httpntlm ships no types; these are the message helpers the agent uses (httpntlm/ntlm.js).
declare module 'httpntlm/ntlm.js' {
  export interface NtlmOptions {
    username: string;
    password: string;
    domain: string;
    workstation: string;
  }
  export interface Type2Message {
    [k: string]: unknown;
  }
  export function createType1Message(o: { domain: string; workstation: string }): string;
  export function parseType2Message(raw: string, cb: (err: Error | null) => void): Type2Message | undefined;
  export function createType3Message(type2: Type2Message, o: NtlmOptions): string;
}
