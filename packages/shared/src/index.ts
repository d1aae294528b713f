export * from './protocol.js';
export * from './codec.js';
export * from './flow.js';
export * from './errors.js';
export * from './headers.js';
export * from './url-rules.js';
export * from './sealing.js';
export * from './line-output.js';
