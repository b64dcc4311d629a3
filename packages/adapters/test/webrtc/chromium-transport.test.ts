/**
 * Real Transports in Chromium pages (the isomorphic build bundled with
 * esbuild; /usr/bin/chromium through playwright-core), talking raft over
 * WebRTC: Chromium ↔ Chromium (two pages, two contexts) and Chromium ↔ Node
 * with each Node implementation, signalling through the HTTP relay the Node
 * test serves. Messages go over both streams and the pipeline, and snapshots
 * are streamed both ways. The codec's golden vectors encode and decode
 * identically in Node and in the page.
 */
import {
  type Message,
  MessageType,
  Transport,
  cborMessageCodec,
  createEntry,
  createMessage,
  createSnapshot,
  messagesEqual,
} from '@raftwire/core';
import { RecordingRaft, patternBody, patternChecksum, waitFor } from '@raftwire/core/testing';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VECTORS } from '../../../core/test/vectors.js';
import { WebRtcLink, webrtcUrl } from '../../src/webrtc/index.js';
import { nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';
import { type ChromiumSite, type MemberPage, type PageSite, openMemberPage, startChromium } from './chromium/harness.js';
import { fromHex, messageToJson, toHex } from './chromium/message-json.js';
import { STACKS } from './helpers.js';

const CLUSTER = 0x3000n;
const codec = cborMessageCodec;
const hex = (m: Message): string => toHex(codec.encode(m));
const unhex = (h: string): Message => codec.decode(fromHex(h));

/** What one member sends another: stream traffic (MsgApp on msgappv2, heartbeats and votes on message) and a pipeline MsgSnap. */
function traffic(from: bigint, to: bigint): Message[] {
  const out: Message[] = [];
  for (let i = 0; i < 20; i++) {
    out.push(
      createMessage({
        type: MessageType.MsgApp,
        from,
        to,
        term: 4,
        logTerm: 4,
        index: 100 + i,
        commit: 100 + i,
        entries: [createEntry({ term: 4, index: 101 + i, data: new Uint8Array(i * 97).map((_, k) => k + i) })],
      }),
    );
  }
  out.push(createMessage({ type: MessageType.MsgHeartbeat, from, to, term: 4, commit: 119 }));
  out.push(createMessage({ type: MessageType.MsgVote, from, to, term: 5, index: 120, logTerm: 4, vote: 0xffffffffffffffffn }));
  // MsgSnap always goes over the pipeline (POST /raft).
  out.push(
    createMessage({
      type: MessageType.MsgSnap,
      from,
      to,
      term: 5,
      snapshot: createSnapshot({ data: new Uint8Array(3000).fill(9), metadata: { index: 120, term: 4 } }),
    }),
  );
  return out;
}

function expectSameMessages(got: Message[], want: Message[]): void {
  expect(got.length).toBe(want.length);
  // Each path keeps its own order (MsgApp: msgappv2 stream; MsgSnap: pipeline; the rest: message stream),
  // not the order across paths: compare path by path.
  const path = (m: Message): string => (m.type === MessageType.MsgApp ? 'msgapp' : m.type === MessageType.MsgSnap ? 'pipeline' : 'message');
  for (const p of ['msgapp', 'message', 'pipeline']) {
    const g = got.filter((m) => path(m) === p);
    const w = want.filter((m) => path(m) === p);
    expect(g.map(messageToJson), p).toEqual(w.map(messageToJson));
    expect(g.every((m, i) => messagesEqual(m, w[i] as Message))).toBe(true);
  }
}

const SNAPSHOT_BYTES = 8 * 1024 * 1024;

describe('WebRTC in Chromium', () => {
  let browser: Browser;
  let site: PageSite;
  const pages: MemberPage[] = [];
  const nodeMembers: { link: WebRtcLink; transport: Transport }[] = [];

  let chromium: ChromiumSite | undefined;

  beforeAll(async () => {
    chromium = await startChromium('transport-page.ts', CLUSTER);
    ({ browser, site } = chromium);
  }, 60_000);

  afterEach(async () => {
    for (const p of pages.splice(0)) {
      await p.call('stop').catch(() => {});
      await p.context.close();
      expect(p.errors).toEqual([]);
    }
    for (const m of nodeMembers.splice(0)) {
      await m.transport.stop();
      await m.link.close();
    }
  });

  afterAll(async () => {
    await chromium?.close();
  });

  async function pageMember(id: bigint): Promise<MemberPage> {
    const p = await openMemberPage(browser, site);
    pages.push(p);
    await p.call('start', id.toString(16), CLUSTER.toString(16), site.relayUrl);
    return p;
  }

  it('encodes and decodes the codec test vectors identically in Node and in Chromium', async () => {
    const p = await openMemberPage(browser, site);
    pages.push(p);
    const nodeBytes = VECTORS.map((v) => hex(v.message));
    expect(nodeBytes).toEqual(VECTORS.map((v) => v.hex));
    // Node → Chromium: the page decodes Node's bytes into its own vector message, field for field.
    const decoded = await p.call('vectorsDecode', nodeBytes);
    decoded.forEach((d, i) => {
      const v = VECTORS[i] as (typeof VECTORS)[number];
      expect(d.equal, v.name).toBe(true);
      expect(d.fields, v.name).toEqual(messageToJson(v.message));
      expect(d.reencoded, v.name).toBe(v.hex);
    });
    // Chromium → Node: the page's bytes are Node's bytes and decode to the same fields.
    const pageBytes = await p.call('vectorsEncode');
    expect(pageBytes).toEqual(nodeBytes);
    pageBytes.forEach((h, i) => {
      const v = VECTORS[i] as (typeof VECTORS)[number];
      expect(messagesEqual(unhex(h), v.message), v.name).toBe(true);
      expect(messageToJson(unhex(h)), v.name).toEqual(messageToJson(v.message));
    });
  });

  it('Chromium ↔ Chromium: two pages exchange raft messages over streams and the pipeline, and a snapshot', async () => {
    const [one, two] = [await pageMember(1n), await pageMember(2n)];
    await one.call('addPeer', '2');
    await two.call('addPeer', '1');
    await waitFor(async () => (await one.call('streamsUp', '2')) && (await two.call('streamsUp', '1')), 'streams up in both pages', 20_000);
    const attached = await two.call('attached');
    expect(attached).toEqual(expect.arrayContaining(['msgappv2:in', 'msgappv2:out', 'message:in', 'message:out']));

    const ab = traffic(1n, 2n);
    const ba = traffic(2n, 1n);
    await one.call('send', ab.map(hex));
    await two.call('send', ba.map(hex));
    await waitFor(async () => (await two.call('received')).length >= ab.length, 'page 2 to receive', 15_000);
    await waitFor(async () => (await one.call('received')).length >= ba.length, 'page 1 to receive', 15_000);
    expectSameMessages((await two.call('received')).map(unhex), ab);
    expectSameMessages((await one.call('received')).map(unhex), ba);

    const snap = createMessage({
      type: MessageType.MsgSnap,
      from: 2n,
      to: 1n,
      term: 5,
      snapshot: createSnapshot({ metadata: { index: 500, term: 5 } }),
    });
    expect(await two.call('sendSnapshot', hex(snap), SNAPSHOT_BYTES)).toBe('finish');
    await waitFor(async () => (await one.call('received')).length > ba.length, 'MsgSnap of the snapshot', 10_000);
    const [rec] = await one.call('snapshots');
    expect(rec).toEqual({
      size: SNAPSHOT_BYTES,
      received: SNAPSHOT_BYTES,
      checksum: await patternChecksum(SNAPSHOT_BYTES, 256 * 1024),
      error: null,
    });
  }, 90_000);

  it.each(STACKS)(
    'Chromium ↔ Node (%s): raft messages both ways over streams and the pipeline, snapshots both ways',
    async (stack) => {
      // The Node member (lower ID: it makes the offers) joins the relay's hub directly; the page joins over HTTP.
      const link = await WebRtcLink.create({
        localId: 1n,
        clusterId: CLUSTER,
        signaling: site.relay.hub,
        peerConnectionFactory: nodePeerConnectionFactory({ stack }),
      });
      const raft = new RecordingRaft();
      raft.keepSnapshotBytes = 0;
      const transport = new Transport({ id: 1n, clusterId: CLUSTER, urls: [webrtcUrl(1n)], link, raft });
      link.setHandler(transport.handler);
      transport.start();
      nodeMembers.push({ link, transport });
      const page = await pageMember(2n);
      transport.addPeer(2n, [webrtcUrl(2n)]);
      await page.call('addPeer', '1');
      await waitFor(
        async () => transport.get(2n)?.streamsWorking && (await page.call('streamsUp', '1')),
        'streams up between Node and the page',
        20_000,
      );

      const nb = traffic(1n, 2n);
      const bn = traffic(2n, 1n);
      transport.send(nb);
      await page.call('send', bn.map(hex));
      await waitFor(async () => (await page.call('received')).length >= nb.length, 'the page to receive', 15_000);
      await waitFor(() => raft.received.length >= bn.length, 'Node to receive', 15_000);
      expectSameMessages((await page.call('received')).map(unhex), nb);
      expectSameMessages(raft.received, bn);

      // Snapshots: Node → page, then page → Node.
      const toPage = createMessage({
        type: MessageType.MsgSnap,
        from: 1n,
        to: 2n,
        term: 5,
        snapshot: createSnapshot({ metadata: { index: 600, term: 5 } }),
      });
      expect(await transport.sendSnapshot(toPage, patternBody(SNAPSHOT_BYTES, 256 * 1024), SNAPSHOT_BYTES)).toBe('finish');
      const checksum = await patternChecksum(SNAPSHOT_BYTES, 256 * 1024);
      await waitFor(async () => (await page.call('snapshots')).length === 1, 'the page to take the snapshot', 10_000);
      expect((await page.call('snapshots'))[0]).toEqual({ size: SNAPSHOT_BYTES, received: SNAPSHOT_BYTES, checksum, error: null });
      const toNode = createMessage({
        type: MessageType.MsgSnap,
        from: 2n,
        to: 1n,
        term: 5,
        snapshot: createSnapshot({ metadata: { index: 601, term: 5 } }),
      });
      expect(await page.call('sendSnapshot', hex(toNode), SNAPSHOT_BYTES)).toBe('finish');
      await waitFor(() => raft.received.some((m) => m.snapshot?.metadata.index === 601), 'Node to process the MsgSnap', 10_000);
      expect(raft.snapshots[0]).toMatchObject({ size: SNAPSHOT_BYTES, received: SNAPSHOT_BYTES, checksum });
    },
    90_000,
  );
});
