#!/usr/bin/env node
// The demo server: serves the built page (dist/web), and for every page that opens a cluster its
// own signalling relay (on a port of its own) and Node member. 127.0.0.1 only.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_FACTOR } from '../shared/demo-time.js';
import { type ApiError, INITIAL_MEMBERS, NODE_MEMBER, type SessionInfo, TOKEN_HEADER, chromiumCommand } from '../shared/session-api.js';
import type { ClusterSession } from './node-member-host.js';
import { SessionError, Sessions } from './sessions.js';

const args = process.argv.slice(2);
function arg(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}
const port = Number(arg('port') ?? process.env['DEMO_PORT'] ?? 5180);
const host = '127.0.0.1';
const loopbackOnly = !args.includes('--allow-non-loopback-ice');
const maxClusters = Number(arg('max-clusters') ?? 6);
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

const sessions = new Sessions({ loopbackOnly, max: maxClusters });

class BadRequest extends Error {}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, code: string, error: string): void {
  json(res, status, { error, code } satisfies ApiError);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const c of req) {
    text += String(c);
    if (text.length > 4096) throw new BadRequest('body too large');
  }
  let v: unknown;
  try {
    v = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new BadRequest('body is not JSON');
  }
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

async function info(s: ClusterSession): Promise<SessionInfo> {
  return {
    clusterId: s.hex,
    token: s.token,
    members: [...INITIAL_MEMBERS],
    loopbackOnly,
    relayUrl: s.relayUrl,
    time: s.time.state(),
    identity: await s.pageIdentity(),
  };
}

/** Routes of one cluster: /api/sessions/<id>/<action>. */
async function sessionApi(req: IncomingMessage, res: ServerResponse, id: string, action: string): Promise<void> {
  const body = req.method === 'POST' ? await readJson(req) : {};
  const header = req.headers[TOKEN_HEADER];
  const token = typeof header === 'string' ? header : typeof body['token'] === 'string' ? body['token'] : undefined;
  const s = sessions.get(id, token);
  if (action === 'status' && req.method === 'GET') return json(res, 200, s.status());
  if (req.method !== 'POST') return fail(res, 405, 'bad-request', 'POST only');
  switch (action) {
    case 'resume':
      // A reloaded page takes its cluster back (its members' logs are in its IndexedDB).
      return json(res, 200, await info(s));
    case 'keys': {
      // Keys for a member the page is about to add (its peers learn its public key from here too).
      const member = String(body['member'] ?? '');
      if (!/^[0-9a-f]{1,16}$/.test(member) || member === NODE_MEMBER || /^0+$/.test(member)) {
        throw new BadRequest('member must be the hex ID of a page member (not 0 or 1)');
      }
      return json(res, 200, await s.pageIdentity([member]));
    }
    case 'leave':
      // The page is going away (sendBeacon on pagehide): its cluster closes unless it comes back.
      sessions.left(s);
      return json(res, 200, { ok: true });
    case 'time': {
      const factor = Number(body['factor']);
      if (!Number.isFinite(factor) || factor < 1 || factor > MAX_FACTOR) throw new BadRequest(`factor must be 1..${MAX_FACTOR}`);
      s.setTime({ factor, paused: body['paused'] === true });
      return json(res, 200, s.time.state());
    }
    case 'tick':
      if (!s.time.paused) throw new BadRequest('tick needs paused time');
      s.tick();
      return json(res, 200, { member: s.status().member });
    case 'node/cut': {
      const peer = String(body['peer'] ?? '');
      if (!/^[0-9a-f]{1,16}$/.test(peer)) throw new BadRequest('peer must be a hex member ID');
      s.cut(peer, body['cut'] !== false);
      return json(res, 200, { ok: true });
    }
    case 'node/kill':
      return json(res, 200, { member: await s.stopMember() });
    case 'node/restart':
      return json(res, 200, { member: await s.startMember() });
    case 'node/snapshot':
      return json(res, 200, { index: await s.forceSnapshot() });
    default:
      return fail(res, 404, 'bad-request', `no route ${action}`);
  }
}

async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (path === '/api/sessions') {
    if (req.method !== 'POST') return fail(res, 405, 'bad-request', 'POST only');
    const body = await readJson(req);
    const factor = body['factor'] === undefined ? 1 : Number(body['factor']);
    if (!Number.isFinite(factor) || factor < 1 || factor > MAX_FACTOR) throw new BadRequest(`factor must be 1..${MAX_FACTOR}`);
    return json(res, 200, await info(await sessions.create({ factor, paused: true })));
  }
  if (path === '/api/health') return json(res, 200, { ok: true, clusters: sessions.size });
  const m = /^\/api\/sessions\/([0-9a-f]{1,16})\/([a-z/]+)$/.exec(path);
  if (!m) return fail(res, 404, 'bad-request', 'not found');
  return sessionApi(req, res, m[1] as string, m[2] as string);
}

function serveStatic(res: ServerResponse, path: string): void {
  const rel = normalize(decodeURIComponent(path)).replace(/^(\.\.[/\\])+/, '');
  let file = join(webRoot, rel === '/' ? 'index.html' : rel);
  if (!file.startsWith(webRoot) || !existsSync(file) || !statSync(file).isFile()) file = join(webRoot, 'index.html');
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path.startsWith('/api/')) {
    api(req, res, path).catch((err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof SessionError) return fail(res, err.status, err.code, err.message);
      if (err instanceof BadRequest) return fail(res, 400, 'bad-request', err.message);
      fail(res, 500, 'failed', err instanceof Error ? err.message : String(err));
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
  console.log('  each page gets its own cluster: members 2, 3, 4 in the page, member 1 here in Node (node-datachannel on 127.0.0.1)');
  console.log('  open it in Chromium with loopback WebRTC allowed and media permission auto-granted:');
  console.log(`  ${chromiumCommand(url)}`);
  console.log('  Ctrl-C to stop');
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log('\nraftwire demo: stopping');
  server.closeAllConnections();
  server.close();
  await Promise.race([sessions.closeAll(), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
