/**
 * Node side of the Chromium tests and bench: bundles a page entry
 * (`transport-page.ts` or `compliance-page.ts`: the isomorphic build plus the
 * globals simple-peer needs), serves it on 127.0.0.1 beside HTTP signalling
 * relays, and opens member pages in the system's /usr/bin/chromium through
 * playwright-core. Must run inside `tools/loopback-only`.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { type SignalingRelay, createSignalingRelay } from '../../../src/webrtc/node/index.js';
import { assertLoopbackOnly } from '../helpers.js';
import type { PageApi } from './transport-page.js';
import { CHROMIUM_PATH, CHROMIUM_WEBRTC_ARGS, CHROMIUM_WEBRTC_PERMISSIONS, requireChromium } from '../../../../../tools/chromium.mjs';

export const CHROMIUM = CHROMIUM_PATH;
export { requireChromium };

const here = fileURLToPath(new URL('.', import.meta.url));
const coreSrc = fileURLToPath(new URL('../../../../core/src/index.ts', import.meta.url));

/** Bundles a page entry of this directory (esbuild, ~1 s). */
export async function bundlePage(entry: 'transport-page.ts' | 'compliance-page.ts' = 'transport-page.ts'): Promise<string> {
  const out = await build({
    entryPoints: [`${here}${entry}`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    inject: [`${here}shims.js`],
    define: { global: 'globalThis' },
    alias: { '@raftwire/core': coreSrc },
    logLevel: 'error',
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced no output');
  return file.text;
}

export interface PageSite {
  base: string;
  relayUrl: string;
  relay: SignalingRelay;
  /** A fresh relay beside the first (its own path), e.g. one per test; `close()` unmounts it. */
  openRelay(clusterId: bigint): { relay: SignalingRelay; url: string; close(): void };
  close(): Promise<void>;
}

/** Serves the page (`/`, `/app.js`) and the signalling relay (`/raft-signal`) on 127.0.0.1. */
export async function servePage(js: string, clusterId: bigint): Promise<PageSite> {
  const relay = createSignalingRelay({ clusterId, insecure: true });
  const relays = new Set<SignalingRelay>([relay]);
  let opened = 0;
  const server: Server = createServer((req, res) => {
    for (const r of relays) if (r.handle(req, res)) return;
    if (req.url === '/app.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(js);
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end('<!doctype html><title>raftwire member</title><script type="module" src="/app.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    relayUrl: `${base}/raft-signal`,
    relay,
    openRelay: (cluster) => {
      const prefix = `/raft-signal-${++opened}`;
      const r = createSignalingRelay({ clusterId: cluster, prefix, insecure: true });
      relays.add(r);
      return {
        relay: r,
        url: `${base}${prefix}`,
        close: () => {
          relays.delete(r);
          r.close();
        },
      };
    },
    close: async () => {
      for (const r of relays) r.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A browser and a served page, as {@link startChromium} makes them. */
export interface ChromiumSite {
  site: PageSite;
  browser: Browser;
  close(): Promise<void>;
}

/**
 * What every Chromium test does first: fails at once outside `tools/loopback-only` or without
 * /usr/bin/chromium, bundles and serves `entry`, and launches the browser.
 */
export async function startChromium(entry: Parameters<typeof bundlePage>[0], clusterId: bigint): Promise<ChromiumSite> {
  assertLoopbackOnly();
  requireChromium();
  const site = await servePage(await bundlePage(entry), clusterId);
  const browser = await launchChromium().catch(async (err: unknown) => {
    await site.close();
    throw err;
  });
  return {
    site,
    browser,
    close: async () => {
      await browser.close();
      await site.close();
    },
  };
}

/** Headless Chromium with loopback ICE allowed (feasibility §5). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_WEBRTC_ARGS, '--disable-background-timer-throttling', '--disable-renderer-backgrounding'],
  });
}

export interface MemberPage {
  context: BrowserContext;
  page: Page;
  errors: string[];
  /** Calls `window.rw[name](...args)` in the page. */
  call<K extends keyof PageApi>(name: K, ...args: Parameters<PageApi[K]>): Promise<Awaited<ReturnType<PageApi[K]>>>;
}

/**
 * A page in its own context (camera/microphone granted: Chromium gathers no host candidates without them),
 * ready once the entry has set `window[ready]`.
 */
export async function openMemberPage(browser: Browser, site: PageSite, ready: 'rw' | 'compliance' = 'rw'): Promise<MemberPage> {
  const context = await browser.newContext({ permissions: [...CHROMIUM_WEBRTC_PERMISSIONS] });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(site.base);
  await page.waitForFunction((name) => name in window, ready);
  return {
    context,
    page,
    errors,
    call: (name, ...args) =>
      page.evaluate(
        ([n, a]) => {
          const api = (window as unknown as { rw: Record<string, (...x: unknown[]) => unknown> }).rw;
          return api[n as string]?.(...(a as unknown[]));
        },
        [name, args] as const,
      ) as never,
  };
}
