// Chromium smoke of the isomorphic WebRTC build (not part of the vitest suite):
//   tools/loopback-only node packages/adapters/test/webrtc/chromium/smoke.mjs
// Bundles page-entry.ts with esbuild, serves it on 127.0.0.1 beside a signalling relay and a Node member,
// and drives /usr/bin/chromium through Playwright.
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { CHROMIUM_PATH, CHROMIUM_WEBRTC_ARGS, CHROMIUM_WEBRTC_PERMISSIONS } from '../../../../../tools/chromium.mjs';

if (Object.keys(networkInterfaces()).some((n) => n !== 'lo')) throw new Error('run inside tools/loopback-only');
const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const req = createRequire(`${root}node_modules/.pnpm/node_modules/`);
const esbuild = req('esbuild');
const { chromium } = req('playwright');
const here = fileURLToPath(new URL('.', import.meta.url));

const built = await esbuild.build({
  entryPoints: [`${here}page-entry.ts`],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  write: false,
  inject: [`${here}shims.js`],
  define: { global: 'globalThis' },
  nodePaths: [`${root}node_modules/.pnpm/node_modules`],
  alias: { '@raftwire/core': `${root}packages/core/src/index.ts` },
  logLevel: 'error',
});
const js = built.outputFiles[0].text;

const node = await tsImport(`${root}packages/adapters/src/webrtc/node/index.ts`, import.meta.url);
const iso = await tsImport(`${root}packages/adapters/src/webrtc/index.ts`, import.meta.url);
const results = [];
for (const stack of ['roam', 'node-datachannel']) {
  const relay = node.createSignalingRelay({ clusterId: 1n, insecure: true });
  const server = createServer((rq, rs) => {
    if (relay.handle(rq, rs)) return;
    if (rq.url === '/app.js') {
      rs.setHeader('content-type', 'text/javascript');
      rs.end(js);
      return;
    }
    rs.setHeader('content-type', 'text/html');
    rs.end('<!doctype html><h1>raftwire webrtc smoke</h1><script type="module" src="/app.js"></script>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const handler = async (r) => {
    let n = 0;
    for await (const c of r.body) n += c.length;
    return { status: 204, headers: { 'x-n': String(n), 'x-where': `node-${stack}` } };
  };
  const member = await iso.WebRtcLink.create({
    localId: 1n,
    clusterId: 1n,
    signaling: relay.hub,
    peerConnectionFactory: node.nodePeerConnectionFactory({ stack }),
    handler,
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_WEBRTC_ARGS],
  });
  try {
    const ctx = await browser.newContext({ permissions: [...CHROMIUM_WEBRTC_PERMISSIONS] });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error('pageerror', e));
    await page.goto(base);
    await page.waitForFunction(() => 'inPage' in window);
    if (stack === 'roam') results.push(await page.evaluate(() => window.inPage()));
    results.push(`[${stack}] ${await page.evaluate((u) => window.withNode(u), `${base}/raft-signal`)}`);
    // Node (lower ID) → browser on the same connection.
    const res = await member.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(10) });
    results.push(`[${stack}] node→browser: status ${res.status} x-where ${res.headers['x-where']}`);
  } finally {
    member.close();
    await browser.close();
    relay.close();
    server.closeAllConnections();
    server.close();
  }
}
for (const r of results) console.log(r);
await new Promise((r) => setTimeout(r, 200));
