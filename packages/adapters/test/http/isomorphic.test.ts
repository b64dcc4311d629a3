import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const httpDir = fileURLToPath(new URL('../../src/http/', import.meta.url));

describe('the fetch client and fetch handler are isomorphic', () => {
  const files = readdirSync(httpDir).filter((f) => f.endsWith('.ts'));

  it('covers the client and server files', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'index.ts',
        'fetch-link.ts',
        'body-streams.ts',
        'link-errors.ts',
        'request-url.ts',
        'fetch-handler.ts',
        'serve-http.ts',
        'bounded-body.ts',
      ]),
    );
  });

  it.each(files)('%s imports no node: module, no Node global, and nothing from ./node', (file) => {
    const text = readFileSync(`${httpDir}${file}`, 'utf8');
    const imports = [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    for (const spec of imports) {
      expect(spec, `${file} imports ${spec}`).not.toMatch(/^node:|^\.\/node\//);
      expect(['@raftwire/core'].includes(spec!) || spec!.startsWith('./'), `${file} imports ${spec}`).toBe(true);
    }
    expect(text).not.toMatch(/\bBuffer\.(from|alloc|concat|isBuffer)|\bprocess\.|\brequire\(/);
  });
});
