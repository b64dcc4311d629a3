/**
 * Browser entry of the Chromium tests and bench: a real core `Transport`
 * over `WebRtcLink` in the page (the isomorphic build, the page's own
 * WebRTC), signalling through the HTTP relay of the Node test process. The
 * Node side drives it through `window.rw`; messages cross the page boundary
 * CBOR-encoded as hex, so both sides compare exact bytes and fields.
 */
import { type Message, MessageType, Transport, cborMessageCodec, createMessage, messagesEqual, parseId } from '@raftwire/core';
import { RecordingRaft, patternBody, patternChecksum } from '../../../../core/src/testing/helpers.js';
import { VECTORS } from '../../../../core/test/vectors.js';
import { HttpRelaySignaling, WebRtcLink, loadSimplePeer, simplePeerFactory, webrtcUrl } from '../../../src/webrtc/index.js';
import { type MessageJson, fromHex, messageToJson, toHex } from './message-json.js';

const codec = cborMessageCodec;
let link: WebRtcLink | undefined;
let transport: Transport | undefined;
let raft: RecordingRaft | undefined;
const attached: string[] = [];

function member(): { link: WebRtcLink; transport: Transport; raft: RecordingRaft } {
  if (link === undefined || transport === undefined || raft === undefined) throw new Error('member not started');
  return { link, transport, raft };
}

/** Heartbeat echo for round-trip measurements: answers MsgHeartbeat with MsgHeartbeatResp carrying the same commit. */
let echo = false;
const rtts = new Map<number, number>();
const sentAt = new Map<number, number>();

const rw = {
  async start(idHex: string, clusterHex: string, relayUrl: string): Promise<void> {
    const id = parseId(idHex);
    const clusterId = parseId(clusterHex);
    const SimplePeer = await loadSimplePeer();
    link = await WebRtcLink.create({
      localId: id,
      clusterId,
      signaling: new HttpRelaySignaling({ baseUrl: relayUrl }),
      peerConnectionFactory: simplePeerFactory({ SimplePeer }),
    });
    raft = new RecordingRaft();
    raft.keepSnapshotBytes = 0;
    transport = new Transport({ id, clusterId, urls: [webrtcUrl(id)], link, raft });
    link.setHandler(transport.handler);
    transport.on('stream:attached', (e) => attached.push(`${e.type}:${e.direction}`));
    const t = transport;
    raft.onMessage = (m) => {
      if (echo && m.type === MessageType.MsgHeartbeat) {
        t.send([createMessage({ type: MessageType.MsgHeartbeatResp, from: id, to: m.from, term: m.term, commit: m.commit })]);
      }
      if (m.type === MessageType.MsgHeartbeatResp) {
        const s = sentAt.get(m.commit);
        if (s !== undefined) rtts.set(m.commit, performance.now() - s);
      }
    };
    transport.start();
  },
  addPeer(idHex: string): void {
    const id = parseId(idHex);
    member().transport.addPeer(id, [webrtcUrl(id)]);
  },
  streamsUp(idHex: string): boolean {
    return member().transport.get(parseId(idHex))?.streamsWorking === true;
  },
  attached(): string[] {
    return [...attached];
  },
  send(hexes: string[]): void {
    member().transport.send(hexes.map((h) => codec.decode(fromHex(h))));
  },
  received(): string[] {
    return member().raft.received.map((m: Message) => toHex(codec.encode(m)));
  },
  async sendSnapshot(msgHex: string, size: number): Promise<string> {
    return member().transport.sendSnapshot(codec.decode(fromHex(msgHex)), patternBody(size, 256 * 1024), size);
  },
  snapshots(): { size: number; received: number; checksum: number; error: string | null }[] {
    return member().raft.snapshots.map((s) => ({ size: s.size, received: s.received, checksum: s.checksum, error: s.error?.code ?? null }));
  },
  patternChecksum(size: number): Promise<number> {
    return patternChecksum(size, 256 * 1024);
  },
  setEcho(on: boolean): void {
    echo = on;
  },
  /** Sends one heartbeat numbered `seq` to `toHex` (round trip recorded when the echo comes back). */
  heartbeat(toHex: string, seq: number): void {
    const { transport: t } = member();
    sentAt.set(seq, performance.now());
    t.send([createMessage({ type: MessageType.MsgHeartbeat, from: t.id, to: parseId(toHex), term: 1, commit: seq })]);
  },
  rtts(): [number, number][] {
    return [...rtts.entries()];
  },
  async stop(): Promise<void> {
    await transport?.stop();
    await link?.close();
    transport = undefined;
    link = undefined;
  },
  /** The golden vectors encoded here. */
  vectorsEncode(): string[] {
    return VECTORS.map((v) => toHex(codec.encode(v.message)));
  },
  /** Decodes bytes encoded in Node: equal to the page's own vector message? Re-encoded bytes and fields. */
  vectorsDecode(hexes: string[]): { equal: boolean; reencoded: string; fields: MessageJson }[] {
    return hexes.map((h, i) => {
      const m = codec.decode(fromHex(h));
      const want = VECTORS[i]?.message;
      return { equal: want !== undefined && messagesEqual(m, want), reencoded: toHex(codec.encode(m)), fields: messageToJson(m) };
    });
  },
};

export type PageApi = typeof rw;
Object.assign(window, { rw });
