/**
 * The publish checks the consumer test applies to every tarball catch what they are for: an
 * unpacked package with each defect must be reported, naming the package, and a sound one not.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { checkPackage } from '../install.mjs';

const LICENSE = 'Apache License\nVersion 2.0\n';
const rootPkg = { repository: { type: 'git', url: 'git+https://example.invalid/raftwire.git' } };
const meta = { name: '@raftwire/x', dir: 'packages/x', version: '0.1.0' };
const dirs: string[] = [];

function unpacked(pkg: Record<string, unknown>, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'raftwire-check-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const sound = {
  name: '@raftwire/x',
  version: '0.1.0',
  description: 'A package that has everything a publish needs.',
  keywords: ['raft'],
  license: 'Apache-2.0',
  type: 'module',
  engines: { node: '>=20' },
  repository: { ...rootPkg.repository, directory: 'packages/x' },
  exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
  dependencies: { '@raftwire/core': '0.1.0' },
};
const soundFiles = { LICENSE, 'README.md': '# x\n', 'dist/index.js': '', 'dist/index.d.ts': '', 'src/index.ts': '' };

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('passes a sound package', () => {
  expect(checkPackage(unpacked(sound, soundFiles), meta, rootPkg, LICENSE)).toEqual([]);
});

it('reports workspace:, a hard WebRTC dependency, default before types, a missing LICENSE, engines, stale output and test files', () => {
  const bad = {
    ...sound,
    engines: undefined,
    exports: { '.': { default: './dist/index.js', types: './dist/index.d.ts' } },
    dependencies: { '@raftwire/core': 'workspace:*', 'node-datachannel': '0.33.4' },
  };
  const files: Record<string, string> = { ...soundFiles, 'dist/gone.js': '', 'dist/x.test.js': '' };
  delete files.LICENSE;
  const problems = checkPackage(unpacked(bad, files), meta, rootPkg, LICENSE);
  expect(problems).toEqual(
    expect.arrayContaining([
      '@raftwire/x: dependencies.@raftwire/core is "workspace:*": a protocol npm cannot install',
      '@raftwire/x: depends on node-datachannel: it must be an optional peer dependency',
      '@raftwire/x: exports["."] lists default before types',
      '@raftwire/x: ships no LICENSE file',
      '@raftwire/x: engines.node is undefined, not ">=20"',
      '@raftwire/x: dist/gone.js has no src/gone.ts: stale build output (delete packages/x/dist and run pnpm run build)',
      '@raftwire/x: ships dist/x.test.js',
    ]),
  );
});
