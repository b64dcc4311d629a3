/**
 * Compliance members living in Deno or Bun (`deno run -A compliance-host.ts`,
 * `bun compliance-host.ts`): each member is a real Transport served by
 * `createFetchHandler` on the runtime's own server (`serveFetch`: Deno.serve,
 * or Bun.serve with the handler mounted under a Hono router), dialling with
 * `FetchLink`. The test process drives them over a small JSON control server
 * (core's compliance bridge): it prints `{"control": url}` once listening.
 *
 * Control requests (POST, JSON): `{op: 'create', count, setup}` →
 * `{members: [{id, url}]}`; `{op: 'invoke', index, method, args}` → the
 * bridge's answer; `{op: 'drop', index}` cuts every response stream member
 * `index` serves; `{op: 'close'}` stops the cluster; `{op: 'exit'}`.
 */
import type { ComplianceSetup } from '@raftwire/core/compliance';
import {
  type ComplianceInvoke,
  type ComplianceMethod,
  LocalComplianceMember,
  type Wire,
  complianceMemberHost,
  fromWire,
} from '@raftwire/core/testing';
import type { HandlerResponse, ProtocolHandler } from '@raftwire/core';
import { Hono } from 'hono';
import { FetchLink, type FetchServer, createFetchHandler, serveFetch } from '../../../dist/http/index.js';

const runtime = (globalThis as { Deno?: unknown }).Deno ? 'deno' : 'bun';

interface HostedMember {
  member: LocalComplianceMember;
  invoke: ComplianceInvoke;
  server: FetchServer;
  link: FetchLink;
  /** Open response streams, cut by `drop`. */
  streams: Set<ReadableStreamDefaultController<Uint8Array>>;
}

let members: HostedMember[] = [];

/** Passes a response through, keeping a handle that can cut its stream (a dropped connection). */
function droppable(res: Response, streams: Set<ReadableStreamDefaultController<Uint8Array>>): Response {
  if (res.body === null) return res;
  const reader = res.body.getReader();
  let ctl: ReadableStreamDefaultController<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctl = c;
        streams.add(c);
      },
      async pull(c) {
        try {
          const r = await reader.read();
          if (r.done) {
            streams.delete(c);
            c.close();
          } else c.enqueue(r.value);
        } catch (err) {
          streams.delete(c);
          c.error(err);
        }
      },
      cancel(reason) {
        if (ctl) streams.delete(ctl);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: res.status, headers: res.headers });
}

async function create(count: number, setup: ComplianceSetup): Promise<{ id: string; url: string }[]> {
  const made: HostedMember[] = [];
  for (let i = 0; i < count; i++) {
    let h: ProtocolHandler | undefined;
    const raft = createFetchHandler((req) => (h ? h(req) : Promise.resolve<HandlerResponse>({ status: 503, headers: {} })));
    const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
    let serve: (request: Request, info: { remoteAddress?: string }) => Promise<Response>;
    if (runtime === 'bun') {
      // Bun serves the handler mounted under a Hono router, as an application would.
      const app = new Hono();
      app.get('/health', (c) => c.text('ok'));
      app.all('/raft', (c) => raft(c.req.raw));
      app.all('/raft/*', (c) => raft(c.req.raw));
      serve = async (request) => droppable(await app.fetch(request), streams);
    } else {
      serve = async (request, info) => droppable(await raft.handle(request, info), streams);
    }
    const server = await serveFetch(serve, { onClose: () => raft.shutdown() });
    const link = new FetchLink({});
    const member = await LocalComplianceMember.create({
      id: setup.ids[i] as bigint,
      clusterId: setup.clusterId,
      url: server.url,
      link,
      serve: (handler) => {
        h = handler;
      },
      timeouts: setup.timeouts,
    });
    made.push({ member, invoke: complianceMemberHost(member), server, link, streams });
  }
  members = made;
  return made.map((m) => ({ id: m.member.id.toString(16), url: m.member.url }));
}

async function closeAll(): Promise<void> {
  const all = members;
  members = [];
  for (const m of all) m.link.close();
  await Promise.all(all.map((m) => m.server.close({ signal: AbortSignal.timeout(2000) })));
}

type Control =
  | { op: 'create'; count: number; setup: Wire }
  | { op: 'invoke'; index: number; method: ComplianceMethod; args: Wire[] }
  | { op: 'drop'; index: number }
  | { op: 'close' }
  | { op: 'exit' };

async function control(request: Request): Promise<Response> {
  const c = (await request.json()) as Control;
  try {
    switch (c.op) {
      case 'create':
        return Response.json({ members: await create(c.count, fromWire(c.setup) as ComplianceSetup) });
      case 'invoke': {
        const m = members[c.index];
        if (m === undefined) throw new Error(`no member ${c.index}`);
        return Response.json({ ok: await m.invoke(c.method, c.args) });
      }
      case 'drop': {
        const m = members[c.index];
        for (const s of m?.streams ?? []) s.error(new Error('connection dropped by the test'));
        m?.streams.clear();
        return Response.json({ ok: null });
      }
      case 'close':
        await closeAll();
        return Response.json({ ok: null });
      case 'exit':
        await closeAll();
        setTimeout(() => (globalThis as unknown as { process: { exit(code: number): void } }).process.exit(0), 10);
        return Response.json({ ok: null });
    }
  } catch (err) {
    const e = err as { message?: string; code?: string };
    return Response.json({ error: { message: e.message ?? String(err), code: e.code ?? null } });
  }
}

const controlServer = await serveFetch((request) => control(request));
console.log(JSON.stringify({ control: controlServer.url, runtime }));
