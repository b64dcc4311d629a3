/**
 * The packages as a stranger gets them: every public package packed with `pnpm pack`, the
 * tarballs installed with plain `npm` into a scratch project outside the workspace (see
 * ../install.mjs), and that install used the way a user would: the README's example (three
 * members over HTTP on 127.0.0.1) run with `node`, the test kit under node:test with vitest out of
 * reach, the declarations compiled with tsc, the `raftwire` bin, and a page bundled with Vite
 * whose three members run in Chromium.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeConsecutivePorts, run } from '../../packages/member/test/processes.js';
import { CHROMIUM_PATH, CHROMIUM_WEBRTC_ARGS, CHROMIUM_WEBRTC_PERMISSIONS, requireChromium } from '../../tools/chromium.mjs';
import { prepareConsumer, ROOT } from '../install.mjs';

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const fixture = (p: string) => fileURLToPath(new URL(`../fixture/${p}`, import.meta.url));

interface Consumer {
  dir: string;
  project: string;
  problems: string[];
}

describe('the packed packages, installed with npm outside the workspace', () => {
  let c: Consumer;
  const started = Date.now();

  beforeAll(async () => {
    // Inside tools/loopback-only the registry is out of reach: npm installs from the cache that
    // `node consumer/install.mjs --warm` filled before the run.
    const prepared = await prepareConsumer({ offline: process.env.RAFTWIRE_IN_LOOPBACK_NS === '1' });
    c = prepared;
    const packed = Date.now();
    prepared.install();
    console.log(
      `consumer test: ${prepared.packed.length} packages packed in ${s(packed - started)}, npm install in ${s(Date.now() - packed)}`,
    );
    cpSync(join(ROOT, 'examples', 'http-cluster.mjs'), join(c.project, 'http-cluster.mjs'));
    cpSync(join(ROOT, 'packages', 'core', 'test', 'without-vitest'), join(c.project, 'without-vitest'), { recursive: true });
    cpSync(fixture('check-types.ts'), join(c.project, 'check-types.ts'));
    cpSync(fixture('http-only.mjs'), join(c.project, 'http-only.mjs'));
    cpSync(fixture('page'), join(c.project, 'page'), { recursive: true });
  }, 240_000);

  afterAll(() => {
    if (c) rmSync(c.dir, { recursive: true, force: true });
    console.log(`consumer test: ${s(Date.now() - started)} in all`);
  });

  it('every tarball is publishable: no workspace: protocol, LICENSE, README, metadata, exports with types first, no stale output', () => {
    expect(c.problems).toEqual([]);
  });

  it("the README's example runs with node from the install: three members over HTTP elect, replicate, read back and exit", async () => {
    const base = await freeConsecutivePorts(3);
    const r = await run(process.execPath, ['http-cluster.mjs', String(base)], c.project);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    for (const id of [1, 2, 3]) expect(r.out).toContain(`member ${id} reads greeting = hello`);
    expect(r.out).toMatch(/^leader is member [123] in term \d+, commit index \d+$/m);
    for (const id of [1, 2, 3]) expect(r.out).toContain(`member ${id} stopped: closed`);
  }, 60_000);

  it('an HTTP-only install has no WebRTC stack, and asking for one names the npm install', async () => {
    for (const pkg of ['node-datachannel', '@roamhq/wrtc']) expect(existsSync(join(c.project, 'node_modules', pkg))).toBe(false);
    const r = await run(process.execPath, ['http-only.mjs'], c.project);
    expect(r.code, r.err).toBe(0);
    const got = JSON.parse(r.out) as { code: string; message: string };
    expect(got.code).toBe('ERR_MISSING_PACKAGE');
    expect(got.message).toContain('npm install node-datachannel');
  });

  it('@raftwire/core/testing runs under node:test while vitest cannot be resolved', async () => {
    const r = await run(
      process.execPath,
      ['--import', './refuse-vitest.mjs', '--test', '--test-reporter=tap', 'memory-exchange.test.mjs'],
      join(c.project, 'without-vitest'),
    );
    expect(r.code, `${r.out}${r.err}`).toBe(0);
    expect(r.out).toMatch(/^# pass 2$/m);
    expect(r.out).toMatch(/^# fail 0$/m);
  });

  it('the shipped declarations compile under strict tsc, library checks on: a custom state machine types propose, read and query with no cast', async () => {
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        // Our declarations (and what they import) are checked; TypeScript's own lib files are not.
        skipLibCheck: false,
        skipDefaultLibCheck: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['es2022', 'dom'],
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      files: ['check-types.ts'],
    };
    writeFileSync(join(c.project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const r = await run(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      c.project,
      120_000,
    );
    expect(`${r.out}${r.err}`).toBe('');
    expect(r.code).toBe(0);
  }, 120_000);

  it('the raftwire bin is installed and answers --help', async () => {
    const r = await run(join(c.project, 'node_modules', '.bin', 'raftwire'), ['--help'], c.project);
    expect(r.code, r.err).toBe(0);
    // The top-level help lists each command on its own line (`raftwire <command> --help` has the rest).
    expect(r.out).toContain('usage: raftwire <command>');
    expect(r.out).toMatch(/^ {2}member {2,}run one member/m);
    expect(r.out).toMatch(/^ {2}cluster {2,}run N members/m);
    expect(r.out).toMatch(/^ {2}cert ca\|member\|api\|token /m);
  });

  describe('bundled with Vite, in Chromium', () => {
    let browser: Browser | undefined;
    let server: Server | undefined;

    beforeAll(() => requireChromium());
    afterAll(async () => {
      await browser?.close();
      await new Promise((r) => (server ? server.close(r) : r(undefined)));
    });

    it('three members created with createWebRtcMember elect, replicate, read back, and the removed one stops', async () => {
      const page = join(c.project, 'page');
      const outDir = join(c.project, 'page-dist');
      const modules = join(c.project, 'node_modules');
      // What the adapters' README tells a bundling user: `global` is globalThis, and the npm
      // buffer, events and process packages stand in for Node's.
      await build({
        root: page,
        configFile: false,
        base: './',
        logLevel: 'warn',
        define: { global: 'globalThis' },
        resolve: {
          alias: [
            { find: /^events$/, replacement: join(modules, 'events', 'events.js') },
            { find: /^process$/, replacement: join(modules, 'process', 'browser.js') },
            { find: /^buffer$/, replacement: join(modules, 'buffer', 'index.js') },
          ],
        },
        build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4000 },
      });
      const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
      server = createServer((req, res) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const file = join(outDir, path === '/' ? 'index.html' : path);
        if (!file.startsWith(outDir) || !existsSync(file)) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
      });
      await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
      const { port } = server.address() as AddressInfo;

      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_WEBRTC_ARGS] });
      const context = await browser.newContext({ permissions: [...CHROMIUM_WEBRTC_PERMISSIONS] });
      const tab = await context.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(String(e)));
      await tab.goto(`http://127.0.0.1:${port}/`);
      const handle = await tab.waitForFunction(() => (window as { consumerResult?: unknown }).consumerResult, undefined, {
        timeout: 90_000,
      });
      const result = (await handle.jsonValue()) as {
        error?: string;
        urls: string[];
        reads: string[];
        leader: string;
        removed: string;
        after: string;
      };
      expect(result.error).toBeUndefined();
      expect(errors).toEqual([]);
      expect(result.urls).toEqual(['webrtc://1', 'webrtc://2', 'webrtc://3']);
      expect(result.reads).toEqual(['written in the page', 'written in the page', 'written in the page']);
      expect(['1', '2', '3']).toContain(result.leader);
      expect(result.removed).toBe('removed');
      expect(result.after).toBe('written in the page');
    }, 150_000);
  });
});
