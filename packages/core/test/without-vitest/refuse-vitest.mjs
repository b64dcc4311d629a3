// `node --import ./refuse-vitest.mjs ...`: module resolution refuses vitest (and @vitest/*), as in
// a project that uses jest or node:test and never installed it.
import { register } from 'node:module';

register('./refuse-vitest-hooks.mjs', import.meta.url);
