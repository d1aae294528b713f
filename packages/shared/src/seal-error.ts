// The one error of sealing, Node's (sealing.ts) and the browser's (web-seal.ts) alike: a file of its own so the
// browser module can throw it without pulling in node:crypto.

export class SealError extends Error {
  readonly code = 'GATEHOUSE_SEAL_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'SealError';
  }
}
