/**
 * The fetch client in a real Chromium (the system's /usr/bin/chromium through
 * playwright-core; nothing downloaded). The page comes from one origin and
 * talks to a raft server on another, so CORS is exercised too. The client's
 * modules are served as ES modules transpiled from source.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { HandlerRequest } from '@raftwire/core';
import { buildSync } from 'esbuild';
import { type Browser, type Page, chromium } from 'playwright-core';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RaftServer } from '../../src/http/node/index.js';
import { ControlledStream, Resources, bytes, readAll, waitFor } from './helpers.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, requireChromium } from '../../../../tools/chromium.mjs';

const httpSrc = fileURLToPath(new URL('../../src/http/', import.meta.url));
const coreIndex = fileURLToPath(new URL('../../../core/src/index.ts', import.meta.url));

/** `@raftwire/core` for the page: the real package, bundled for the browser once. */
let coreBundle: string | undefined;
function coreForBrowser(): string {
  coreBundle ??= buildSync({ entryPoints: [coreIndex], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false })
    .outputFiles[0]?.text;
  if (coreBundle === undefined) throw new Error('esbuild produced no core bundle');
  return coreBundle;
}

function transpile(file: string): string {
  return ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  }).outputText;
}

/** Serves the page and the client modules; `@raftwire/core` is core bundled for the browser. */
function pageServer(): http.Server {
  return http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        '<!doctype html><script type="importmap">{"imports":{"@raftwire/core":"/core/index.js"}}</script><script type="module">import * as m from "/http/index.js"; window.raftwireHttp = m;</script><body>raftwire</body>',
      );
      return;
    }
    if (url === '/core/index.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(coreForBrowser());
      return;
    }
    const m = /^\/http\/([a-z-]+)\.js$/.exec(url);
    const file = m !== null ? `${httpSrc}${m[1]}.ts` : undefined;
    if (file === undefined || !existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/javascript' });
    res.end(transpile(file));
  });
}

describe('FetchLink in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let pages: http.Server;
  let pageOrigin: string;
  const r = new Resources();
  let raft: RaftServer;
  let streams: ControlledStream[];
  let requests: HandlerRequest[];

  beforeAll(async () => {
    requireChromium();
    pages = pageServer();
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
    });
    page = await browser.newPage();
    await page.goto(pageOrigin);
    await page.waitForFunction(() => 'raftwireHttp' in window);
    await page.exposeFunction('pushChunk', (i: number) => streams[0]!.push(bytes(`frame-${i}`)));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => pages.close(() => resolve()));
  });

  beforeAll(async () => {
    streams = [];
    requests = [];
    raft = await r.server(
      async (req) => {
        requests.push(req);
        if (req.path.startsWith('/raft/stream/')) {
          const s = new ControlledStream(req.signal);
          streams.push(s);
          return { status: 200, headers: { 'x-server-version': '3.6.0' }, body: s };
        }
        const body = await readAll(req.body);
        return { status: 200, headers: { 'x-etcd-cluster-id': 'c1', 'x-got-from': req.headers['x-server-from'] ?? '' }, body };
      },
      { cors: { allowedOrigins: [pageOrigin] }, maxBodyBytes: 1024 * 1024 },
    );
  });
  afterAll(() => r.closeAll());
  afterEach(() => {
    streams.length = 0;
    requests.length = 0;
  });

  it('POSTs a (buffered) iterable body cross-origin and reads status, exposed headers and body', async () => {
    const got = await page.evaluate(async (url) => {
      const { FetchLink } = (window as unknown as { raftwireHttp: typeof import('../../src/http/index.js') }).raftwireHttp;
      const link = new FetchLink();
      const body = (async function* () {
        yield new TextEncoder().encode('hello ');
        yield new TextEncoder().encode('from chromium');
      })();
      const res = await link.request(url, { method: 'POST', path: '/raft', headers: { 'x-server-from': 'a1' }, body });
      let text = '';
      for await (const c of res.body) text += new TextDecoder().decode(c);
      return { status: res.status, cid: res.headers['x-etcd-cluster-id'], from: res.headers['x-got-from'], text };
    }, raft.url);
    expect(got).toEqual({ status: 200, cid: 'c1', from: 'a1', text: 'hello from chromium' });
  });

  it('reads a stream chunk by chunk as the server flushes it', async () => {
    const frames = await page.evaluate(async (url) => {
      const { FetchLink } = (window as unknown as { raftwireHttp: typeof import('../../src/http/index.js') }).raftwireHttp;
      const link = new FetchLink();
      const res = await link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
      const it = res.body[Symbol.asyncIterator]();
      const out: string[] = [res.headers['x-server-version'] ?? 'missing'];
      const w = window as unknown as { pushChunk(i: number): Promise<void> };
      // Each frame is produced only after the previous one arrived here.
      for (let i = 0; i < 10; i++) {
        await w.pushChunk(i);
        const n = await it.next();
        out.push(new TextDecoder().decode(n.value));
      }
      await it.return?.();
      return out;
    }, raft.url);
    expect(frames).toEqual(['3.6.0', ...Array.from({ length: 10 }, (_, i) => `frame-${i}`)]);
    await streams[0]!.returned.promise;
  });

  it('abort mid-stream → ERR_ABORTED in the page, return() and signal on the server', async () => {
    const err = await page.evaluate(async (url) => {
      const { FetchLink } = (window as unknown as { raftwireHttp: typeof import('../../src/http/index.js') }).raftwireHttp;
      const link = new FetchLink();
      const ac = new AbortController();
      const res = await link.openStream(url, { method: 'GET', path: '/raft/stream/msgapp/1', headers: {}, signal: ac.signal });
      const it = res.body[Symbol.asyncIterator]();
      await (window as unknown as { pushChunk(i: number): Promise<void> }).pushChunk(0);
      await it.next();
      ac.abort();
      try {
        await it.next();
        return null;
      } catch (e) {
        const x = e as { name: string; code?: string; message: string };
        return { name: x.name, code: x.code, message: x.message };
      }
    }, raft.url);
    expect(err).toMatchObject({ name: 'RaftwireError', code: 'ERR_ABORTED' });
    await streams[0]!.returned.promise;
    await waitFor(() => requests[0]!.signal.aborted, 'server-side signal');
  });

  it('maps failures: refused → ERR_LINK, foreign origin → ERR_LINK, oversized buffered body → ERR_BUFFER_FULL', async () => {
    const errs = await page.evaluate(async (url) => {
      const { FetchLink } = (window as unknown as { raftwireHttp: typeof import('../../src/http/index.js') }).raftwireHttp;
      const codeOf = async (p: Promise<unknown>): Promise<{ name: string; code?: string } | null> => {
        try {
          await p;
          return null;
        } catch (e) {
          const x = e as { name: string; code?: string };
          return { name: x.name, code: x.code ?? 'none' };
        }
      };
      const link = new FetchLink({ maxBufferedBodyBytes: 1000 });
      const big = (async function* () {
        for (let i = 0; i < 3; i++) yield new Uint8Array(600);
      })();
      return {
        refused: await codeOf(link.request('http://127.0.0.1:9', { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(1) })),
        tooBig: await codeOf(link.request(url, { method: 'POST', path: '/raft', headers: {}, body: big })),
      };
    }, raft.url);
    expect(errs).toEqual({
      refused: { name: 'RaftwireError', code: 'ERR_LINK' },
      tooBig: { name: 'RaftwireError', code: 'ERR_BUFFER_FULL' },
    });

    // A raft server that does not allow the page's origin: the browser refuses the response.
    const closed = await r.server(async () => ({ status: 204, headers: {} }), { cors: { allowedOrigins: ['http://127.0.0.1:1'] } });
    const foreign = await page.evaluate(async (url) => {
      const { FetchLink } = (window as unknown as { raftwireHttp: typeof import('../../src/http/index.js') }).raftwireHttp;
      try {
        await new FetchLink().request(url, { method: 'POST', path: '/raft', headers: { 'x-server-from': '1' }, body: new Uint8Array(1) });
        return null;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    }, closed.url);
    expect(foreign).toBe('ERR_LINK');
  });
});
