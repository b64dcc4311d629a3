// Globals simple-peer 9's dependencies expect in a browser. `buffer` and `process` here are the
// npm packages for the browser, not Node's modules.
import { Buffer } from 'buffer';
import process from 'process/browser.js';
globalThis.process ??= process;
globalThis.Buffer ??= Buffer;
