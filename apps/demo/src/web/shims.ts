// Globals simple-peer 9's dependencies expect in a browser (feasibility §7). Imported first.
// Vite aliases `process` and `buffer` to the npm browser packages (vite.config.ts).
import { Buffer } from 'buffer';
import * as processModule from 'process';

const g = globalThis as unknown as { process?: unknown; Buffer?: unknown };
g.process ??= (processModule as unknown as { default?: unknown }).default ?? processModule;
g.Buffer ??= Buffer;
