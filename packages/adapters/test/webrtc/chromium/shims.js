// Globals simple-peer 9's dependencies expect in a browser (feasibility §7).
import process from 'process/browser.js';
// `buffer` here is the npm package for the browser, not Node's module.
import { Buffer } from 'buffer';
globalThis.process ??= process;
globalThis.Buffer ??= Buffer;
