#!/usr/bin/env node
// The demo server: serves the built page (dist/web), the signalling relay,
// and the Node member of the page's cluster. 127.0.0.1 only.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterSession } from './node-member-host.js';

const args = process.argv.slice(2);
function arg(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}
const port = Number(arg('port') ?? process.env['DEMO_PORT'] ?? 5180);
const host = '127.0.0.1';
const loopbackOnly = !args.includes('--allow-non-loopback-ice');
const webRoot = fileURLToPath(new URL('../web/', import.meta.url));
if (!existsSync(join(webRoot, 'index.html'))) {
  console.error(`demo: ${webRoot}index.html is missing; build the page first (pnpm --filter @raftwire/demo run build:web)`);
  process.exit(1);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

let nextCluster = 0x1000n;
// The Node member starts when a page opens its cluster (POST /api/session) and stops when the page
// leaves: with no page to connect to it would only keep redialling its absent peers.
let session = new ClusterSession(nextCluster++, loopbackOnly);

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const c of req) {
    text += String(c);
    if (text.length > 4096) throw new Error('body too large');
  }
  const v: unknown = text === '' ? {} : JSON.parse(text);
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (path === '/api/node-status' && req.method === 'GET') return json(res, 200, session.status());
  if (req.method !== 'POST') return json(res, 405, { error: 'POST only' });
  const body = await readJson(req);
  switch (path) {
    case '/api/session': {
      // A page load takes the waiting cluster, or gets a fresh one (its members start with empty logs).
      if (session.claimed) {
        const old = session;
        session = new ClusterSession(nextCluster++, loopbackOnly);
        await old.close();
      }
      session.claimed = true;
      await session.startMember();
      return json(res, 200, { clusterId: session.clusterId.toString(16), nodeMember: '1', members: ['1', '2', '3', '4'], loopbackOnly });
    }
    case '/api/session/close': {
      // The page is going away (sendBeacon on pagehide): stop its cluster's Node member.
      if (String(body['clusterId'] ?? '') === session.clusterId.toString(16)) await session.stopMember();
      return json(res, 200, { ok: true });
    }
    case '/api/speed': {
      const f = Number(body['factor']);
      if (!Number.isFinite(f) || f < 1 || f > 100) return json(res, 400, { error: 'factor must be 1..100' });
      session.speed.factor = f;
      return json(res, 200, { factor: f });
    }
    case '/api/node/cut': {
      const peer = String(body['peer'] ?? '');
      if (!/^[0-9a-f]{1,16}$/.test(peer)) return json(res, 400, { error: 'peer must be a hex member ID' });
      session.cut(peer, body['cut'] !== false);
      return json(res, 200, { ok: true });
    }
    case '/api/node/kill':
      await session.stopMember();
      return json(res, 200, { ok: true });
    case '/api/node/restart':
      await session.startMember();
      return json(res, 200, { ok: true });
    case '/api/node/snapshot':
      return json(res, 200, { index: await session.forceSnapshot() });
    default:
      return json(res, 404, { error: 'not found' });
  }
}

function serveStatic(res: ServerResponse, path: string): void {
  const rel = normalize(decodeURIComponent(path)).replace(/^(\.\.[/\\])+/, '');
  let file = join(webRoot, rel === '/' ? 'index.html' : rel);
  if (!file.startsWith(webRoot) || !existsSync(file) || !statSync(file).isFile()) file = join(webRoot, 'index.html');
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}

const server = createServer((req, res) => {
  if (session.relay.handle(req, res)) return;
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path.startsWith('/api/')) {
    api(req, res, path).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: err instanceof Error ? err.message : String(err) });
    });
    return;
  }
  serveStatic(res, path);
});
server.listen(port, host, () => {
  const addr = server.address();
  const p = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host}:${p}/`;
  console.log(`raftwire demo: ${url}`);
  console.log('  each page load starts a cluster: members 2, 3, 4 in the page, member 1 here in Node (node-datachannel on 127.0.0.1)');
  console.log('  open it in Chromium with loopback WebRTC allowed and media permission auto-granted:');
  console.log(
    `  chromium --user-data-dir=/tmp/raftwire-demo-profile --allow-loopback-in-peer-connection --use-fake-ui-for-media-stream --use-fake-device-for-media-stream ${url}`,
  );
  console.log('  Ctrl-C to stop');
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nraftwire demo: stopping');
  server.closeAllConnections();
  server.close();
  await Promise.race([session.close(), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
