import { randomUUID, type webcrypto } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_RELAY_PREFIX,
  exportIdentityKey,
  generateIdentityKeyPair,
  generateRelayKey,
  signalingCredential,
  webrtcUrl,
} from '@raftwire/adapters/webrtc';
import { type SignalingRelay, createSignalingRelay, nodePeerConnectionFactory } from '@raftwire/adapters/webrtc/node';
import { type Id, formatId, parseId } from '@raftwire/core';
import { type Member, MemoryStorage } from '@raftwire/raft';
import { DemoMember, LOG_TAIL, emptyReport, type MemberReport, type RaftEvent, type TransportTrace } from '../shared/demo-member.js';
import { DemoTime, TICK_MS, type TimeState } from '../shared/demo-time.js';
import { logView } from '../shared/log-view.js';
import { type LoopbackFilterStats, loopbackOnlySignaling } from '../shared/loopback-signaling.js';
import { INITIAL_MEMBERS, NODE_MEMBER, type IdentityJwk, type NodeStatus, type PageIdentity } from '../shared/session-api.js';

const MAX_BUFFERED_EVENTS = 500;
/** Identities one cluster mints at most (the page runs at most a few members at once; IDs are never reused). */
export const MAX_IDENTITIES = 64;

interface MintedIdentity {
  keyPair: webcrypto.CryptoKeyPair;
  credential: string;
  privateJwk: IdentityJwk;
  publicJwk: IdentityJwk;
}

/**
 * One page's cluster on the server side: its signalling relay, its demo time
 * (which follows the page's speed and pause controls), and its Node member: a
 * RaftNode (MemoryStorage + KvStateMachine) with its own core Transport over a
 * WebRtcLink on node-datachannel bound to 127.0.0.1.
 *
 * The relay listens on a port of its own (127.0.0.1, chosen by the system).
 * Each of the page's members keeps an event stream open to it, and a browser
 * opens at most six HTTP/1.1 connections to one host and port: on the page's
 * own port, two tabs' members would take all six and starve each other.
 *
 * Trust (docs/demo.md "Trust"): the relay admits only members showing a
 * credential minted under this cluster's relay key, and every member has an
 * ECDSA identity key pair minted here; offers and answers are signed and
 * checked against the peers' public keys. The page gets its members' keys only
 * with its token; member 1's private key never leaves this process.
 */
export class ClusterSession {
  readonly clusterId: Id;
  readonly hex: string;
  /** Shown only to the page that created the cluster; every request about it must carry it. */
  readonly token = randomUUID();
  readonly relay: SignalingRelay;
  private readonly relayServer: Server;
  /** The relay's base URL (set by {@link listen}). */
  relayUrl = '';
  readonly time = new DemoTime();
  /** Date.now() of the page's last request. */
  lastSeen = Date.now();
  /** Date.now() when the page said it was leaving (a reload comes back within seconds). */
  leftAt: number | undefined;
  private member: DemoMember | undefined;
  private readonly storage = new MemoryStorage();
  private readonly paths: Record<string, Record<string, number>> = {};
  private transportEvents: TransportTrace[] = [];
  private raftEvents: RaftEvent[] = [];
  private readonly filter: LoopbackFilterStats = { droppedCandidates: 0 };
  private lastReport: MemberReport | undefined;
  private closed = false;
  private readonly relayKey = generateRelayKey();
  private readonly identities = new Map<string, Promise<MintedIdentity>>();
  /** Every minted member's public key: member 1 verifies with it (live: members minted later appear). */
  private readonly publicKeys = new Map<Id, webcrypto.CryptoKey>();

  constructor(
    clusterId: Id,
    private readonly loopbackOnly: boolean,
  ) {
    this.clusterId = clusterId;
    this.hex = formatId(clusterId);
    this.relay = createSignalingRelay({ clusterId, relayKey: this.relayKey });
    this.relayServer = createServer((req, res) => {
      if (!this.relay.handle(req, res)) res.writeHead(404).end();
    });
  }

  /** The identity of member `hex`, minted on first use (a key pair and its relay credential). */
  private mint(hex: string): Promise<MintedIdentity> {
    const known = this.identities.get(hex);
    if (known) return known;
    if (this.identities.size >= MAX_IDENTITIES) {
      return Promise.reject(new Error(`cluster ${this.hex} already has ${MAX_IDENTITIES} member identities`));
    }
    const p = (async (): Promise<MintedIdentity> => {
      const id = parseId(hex);
      const keyPair = await generateIdentityKeyPair();
      const minted: MintedIdentity = {
        keyPair,
        credential: await signalingCredential(this.relayKey, this.clusterId, id),
        privateJwk: await exportIdentityKey(keyPair.privateKey),
        publicJwk: await exportIdentityKey(keyPair.publicKey),
      };
      this.publicKeys.set(id, keyPair.publicKey);
      return minted;
    })();
    this.identities.set(hex, p);
    p.catch(() => this.identities.delete(hex));
    return p;
  }

  /**
   * What the page may know (hand it out only with the page's token): its members'
   * credentials and private keys, and every member's public key. `add` mints
   * members the page is about to add; member 1's own keys are never included.
   */
  async pageIdentity(add: readonly string[] = []): Promise<PageIdentity> {
    const hexes = [...new Set([...INITIAL_MEMBERS, ...this.identities.keys(), ...add.map((h) => formatId(parseId(h)))])];
    const out: PageIdentity = { members: {}, publicKeys: {} };
    for (const hex of hexes) {
      const m = await this.mint(hex);
      out.publicKeys[hex] = m.publicJwk;
      if (hex !== NODE_MEMBER) out.members[hex] = { credential: m.credential, privateKey: m.privateJwk };
    }
    return out;
  }

  /** Starts the relay on 127.0.0.1 (a free port). */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.relayServer.once('error', reject);
      this.relayServer.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = this.relayServer.address() as AddressInfo;
    this.relayUrl = `http://127.0.0.1:${addr.port}${DEFAULT_RELAY_PREFIX}`;
  }

  get running(): boolean {
    return this.member?.running === true;
  }

  /** Starts member 1 (again, after a kill: it recovers from its kept storage). */
  async startMember(): Promise<MemberReport> {
    if (this.closed) throw new Error('the cluster is closed');
    if (this.member) return this.report();
    const peers: Member[] = INITIAL_MEMBERS.map((h) => ({ id: parseId(h), url: webrtcUrl(parseId(h)) }));
    await this.pageIdentity();
    const own = await this.mint(NODE_MEMBER);
    const m = new DemoMember({
      identity: { privateKey: own.keyPair.privateKey, publicKeys: this.publicKeys },
      id: parseId(NODE_MEMBER),
      clusterId: this.clusterId,
      signaling: this.loopbackOnly ? loopbackOnlySignaling(this.relay.hub, this.filter) : this.relay.hub,
      factory: nodePeerConnectionFactory({ stack: 'node-datachannel' }),
      storage: this.storage,
      peers,
      time: this.time,
      onSend: (t) => {
        const p = this.paths[t.to] ?? {};
        p[t.path] = Date.now();
        this.paths[t.to] = p;
      },
      onTransportEvent: (e) => {
        if (this.transportEvents.length < MAX_BUFFERED_EVENTS) this.transportEvents.push(e);
      },
      onRaftEvent: (e) => {
        if (this.raftEvents.length < MAX_BUFFERED_EVENTS) this.raftEvents.push(e);
      },
    });
    this.member = m;
    try {
      await m.start();
    } catch (err) {
      this.member = undefined;
      await m.stop().catch(() => {});
      throw err;
    }
    return this.report();
  }

  /** Stops member 1 as a crash would (its storage is kept for a restart). */
  async stopMember(): Promise<MemberReport> {
    const m = this.member;
    if (m) this.lastReport = m.report();
    this.member = undefined;
    await m?.stop();
    return this.report();
  }

  cut(peerHex: string, cut: boolean): void {
    const m = this.member;
    if (!m) return;
    const peer = parseId(peerHex);
    if (cut) m.cutPeer(peer);
    else m.mendPeer(peer);
  }

  async forceSnapshot(): Promise<number> {
    if (!this.member?.running) throw new Error('member 1 is not running');
    return this.member.forceSnapshot();
  }

  setTime(s: TimeState): void {
    this.time.apply(s);
  }

  /** One tick of member 1's clock while time is paused. */
  tick(): void {
    this.time.advance(TICK_MS);
  }

  private report(): MemberReport {
    const m = this.member;
    if (m) return m.report();
    // Stopped: what it had when it stopped (its storage is kept), as the page shows its own stopped members.
    const hs = this.storage.initialState().hardState;
    return {
      ...emptyReport(NODE_MEMBER, 'stopped'),
      term: hs.term,
      commit: hs.commit,
      applied: this.lastReport?.applied ?? 0,
      lastIndex: this.storage.lastIndex(),
      vote: formatId(hs.vote),
      log: logView(this.storage, hs.commit, this.lastReport?.applied ?? 0, LOG_TAIL),
    };
  }

  /** Member 1 now, and the events since the last call. */
  status(): NodeStatus {
    const m = this.member;
    const transportEvents = this.transportEvents;
    const raftEvents = this.raftEvents;
    this.transportEvents = [];
    this.raftEvents = [];
    const running = m?.running === true;
    return {
      clusterId: this.hex,
      member: this.report(),
      cut: running && m ? [...m.cut] : [],
      active:
        running && m
          ? m.transport
              .peerIds()
              .filter((p) => m.peerActive(p))
              .map(formatId)
          : [],
      droppedCandidates: this.filter.droppedCandidates,
      paths: structuredClone(this.paths),
      transportEvents,
      raftEvents,
      time: this.time.state(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopMember();
    this.relay.close();
    this.relayServer.closeAllConnections();
    this.relayServer.close();
    this.time.close();
  }
}
