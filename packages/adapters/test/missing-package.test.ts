import { createRequire } from 'node:module';
import { ErrorCode, isRaftwireError } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { asMissingPackage, requireOptional } from '../src/missing-package.js';

const require = createRequire(import.meta.url);

/** The error Node throws for a package that is not installed, under the name of one that is optional here. */
function notFound(kind: 'require' | 'import'): Error {
  try {
    require('@raftwire/no-such-package-for-this-test');
  } catch (err) {
    const e = err as Error & { code: string };
    const msg = e.message.replace('@raftwire/no-such-package-for-this-test', 'node-datachannel/polyfill');
    return Object.assign(new Error(kind === 'require' ? msg : `Cannot find package 'node-datachannel' imported from /app/x.js`), {
      code: kind === 'require' ? e.code : 'ERR_MODULE_NOT_FOUND',
    });
  }
  throw new Error('require of a missing package did not throw');
}

describe('optional packages', () => {
  it('map "not installed" (require and import) to ERR_MISSING_PACKAGE naming the npm install', () => {
    for (const kind of ['require', 'import'] as const) {
      const e = asMissingPackage(notFound(kind), 'node-datachannel', "the WebRTC stack 'node-datachannel'");
      expect(isRaftwireError(e, ErrorCode.MISSING_PACKAGE)).toBe(true);
      expect((e as Error).message).toBe(
        "the WebRTC stack 'node-datachannel' needs the package node-datachannel, which is not installed: npm install node-datachannel",
      );
      expect((e as Error).cause).toBeInstanceOf(Error);
    }
    const bundler = asMissingPackage(new Error('Failed to resolve module specifier "simple-peer"'), 'simple-peer', 'the WebRTC adapter');
    expect(isRaftwireError(bundler, ErrorCode.MISSING_PACKAGE)).toBe(true);
  });

  it('leave other failures alone: a package found but broken, another package missing', () => {
    const broken = Object.assign(new Error("Cannot find module '/app/node_modules/node-datachannel/build/Release/node_datachannel.node'"), {
      code: 'MODULE_NOT_FOUND',
    });
    expect(asMissingPackage(broken, 'node-datachannel', 'x')).toBe(broken);
    const other = Object.assign(new Error("Cannot find module 'debug'"), { code: 'MODULE_NOT_FOUND' });
    expect(asMissingPackage(other, 'simple-peer', 'x')).toBe(other);
    const plain = new TypeError('boom');
    expect(() =>
      requireOptional(
        () => {
          throw plain;
        },
        'simple-peer',
        'x',
      ),
    ).toThrow(plain);
    expect(requireOptional(() => 42, 'simple-peer', 'x')).toBe(42);
  });
});
