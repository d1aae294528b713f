// Vitest setup file: after each test file (its own afterAll hooks run first), any process the helpers started
// and nobody stopped is killed, so a failed test cannot leave a hub or agent holding a port for the next one.
import { afterAll } from 'vitest';
import { killLeftovers } from './stack.js';

afterAll(() => {
  killLeftovers();
});
