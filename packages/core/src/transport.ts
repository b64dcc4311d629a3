import { EventEmitter } from 'eventemitter3';
import { TransportContext } from './context.js';
import { ErrorCode, RaftwireError } from './errors.js';
import type { TransportEvents } from './events.js';
import { type Id, formatId, isId } from './ids.js';
import type { ProtocolHandler } from './link.js';
import { type Message, MessageType } from './message.js';
import type { SnapshotStatus, TransportOptions } from './options.js';
import { Peer } from './peer.js';
import type { ProbingStatus } from './prober.js';
import { createProtocolHandler } from './handler.js';
import { Remote } from './remote.js';
import { normalizePeerUrls } from './urls.js';
import type { ClusterMember } from './wire-profile.js';

type State = 'new' | 'started' | 'stopped';

/**
 * etcd's rafthttp Transport, isomorphic: carries raft messages to peers over
 * a {@link Link} (streams for the steady flow, a pipeline for the rest and
 * for snapshots), and serves the protocol's server side as {@link handler}.
 *
 * Lifecycle: `start()` before anything else; `stop()` aborts everything in
 * flight, waits for it, and leaves no timer, listener or pending promise.
 */
export class Transport extends EventEmitter<TransportEvents> {
  /** The server side of the protocol: hand it to an adapter's server. */
  readonly handler: ProtocolHandler;
  private readonly ctx: TransportContext;
  private readonly peers = new Map<Id, Peer>();
  /** Bumped whenever `peers` changes: `send`'s lookup cache is good only while it stays. */
  private peersVersion = 0;
  private readonly remotes = new Map<Id, Remote>();
  private readonly stopping: Promise<void>[] = [];
  private state: State = 'new';
  private readonly abort = new AbortController();

  constructor(options: TransportOptions) {
    super();
    if (!isId(options.id) || options.id === 0n) throw new RaftwireError(ErrorCode.INVALID_ID, 'options.id must be a non-zero 64-bit ID');
    if (!isId(options.clusterId)) throw new RaftwireError(ErrorCode.INVALID_ID, 'options.clusterId must be a 64-bit ID');
    this.ctx = new TransportContext(options, this);
    const self = this;
    this.handler = createProtocolHandler({
      ctx: this.ctx,
      get running() {
        return self.state === 'started';
      },
      signal: this.abort.signal,
      peer: (id) => this.peers.get(id),
      addRemote: (id, urls) => this.addRemote(id, urls),
      members: options.members ?? (() => this.knownMembers()),
    });
  }

  get id(): Id {
    return this.ctx.id;
  }

  /** Must precede every other call. */
  start(): void {
    if (this.state === 'stopped') throw new RaftwireError(ErrorCode.STOPPED, 'transport stopped');
    this.state = 'started';
  }

  /** Aborts in-flight work first, then waits for every part to finish. Idempotent. */
  async stop(): Promise<void> {
    if (this.state !== 'stopped') {
      this.state = 'stopped';
      this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'transport stopped'));
      const all = [...this.remotes.values()].map((r) => r.stop());
      all.push(...[...this.peers.values()].map((p) => p.stop()));
      this.remotes.clear();
      this.peers.clear();
      this.peersVersion++;
      this.stopping.push(...all);
    }
    await Promise.all(this.stopping);
  }

  private requireStarted(what: string): void {
    if (this.state !== 'started') {
      throw new RaftwireError(ErrorCode.STOPPED, `${what}: transport ${this.state === 'new' ? 'not started' : 'stopped'}`);
    }
  }

  /**
   * Sends messages without waiting. `to == 0` is skipped; peers win over
   * remotes; a message to an unknown target is dropped (`message:dropped` with
   * reason `unknown-peer`, counted and logged like any drop). MsgSnap goes only to
   * the pipeline; use {@link sendSnapshot} to stream a snapshot body.
   */
  send(msgs: readonly Message[]): void {
    if (this.state !== 'started') return;
    // Raft hands over runs of messages to one peer (a batch of MsgApps): the peer found for the
    // last message is kept while the target and the peer set stay the same. A Map lookup by a
    // bigint hashes its digits every time (≈ 2 % of the sender's CPU at 64 B × 1, docs/http.md),
    // and a drop's listener may add or remove peers mid-batch (`peersVersion`).
    let lastTo: Id = 0n;
    let lastPeer: Peer | undefined;
    let version = this.peersVersion;
    for (const m of msgs) {
      const to = m.to;
      if (to === 0n) continue;
      if (to !== lastTo || version !== this.peersVersion) {
        lastTo = to;
        lastPeer = this.peers.get(to);
        version = this.peersVersion;
      }
      const p = lastPeer;
      if (p) {
        p.send(m);
        continue;
      }
      const r = this.remotes.get(m.to);
      if (r) {
        r.send(m);
        continue;
      }
      // etcd ignores these with a debug line; here they are counted, logged (rate-limited) and
      // emitted like every other drop, and a lost MsgSnap is reported so raft retries it.
      if (m.type === MessageType.MsgSnap) this.ctx.raft.reportSnapshot(m.to, 'failure');
      this.ctx.noteDrop(m, m.to, 'it is not a known peer', 'unknown-peer');
    }
  }

  /**
   * Streams a snapshot: `msg` (a MsgSnap) then `size` bytes of `body`, which
   * is read as the link takes it and never buffered whole. `size` defaults to
   * `body.size` when the body carries one (raft's SnapshotBody). Resolves
   * with the status also given to `raft.reportSnapshot`; never rejects.
   * `signal` cancels the send (a failure).
   */
  sendSnapshot(
    msg: Message,
    body: AsyncIterable<Uint8Array> & { readonly size?: number },
    size: number | undefined = body.size,
    signal?: AbortSignal,
  ): Promise<SnapshotStatus> {
    const p = this.state === 'started' ? this.peers.get(msg.to) : undefined;
    if (!p) {
      const error = new RaftwireError(
        this.state === 'started' ? ErrorCode.MEMBER_NOT_FOUND : ErrorCode.STOPPED,
        this.state === 'started' ? 'member not found' : 'transport not running',
      );
      if (msg.type === MessageType.MsgSnap) this.ctx.raft.reportSnapshot(msg.to, 'failure');
      this.emit('snapshot:failed', { to: msg.to, error });
      return Promise.resolve('failure');
    }
    return p.sendSnapshot(msg, body, size ?? -1, signal);
  }

  /** Adds a member; a no-op when it is already a peer. Throws ERR_INVALID_URL for bad URLs. */
  addPeer(id: Id, urls: readonly string[]): void {
    this.requireStarted('addPeer');
    if (!isId(id) || id === 0n) throw new RaftwireError(ErrorCode.INVALID_ID, 'peer ID must be a non-zero 64-bit ID');
    if (this.peers.has(id)) return;
    const norm = normalizePeerUrls(urls, this.ctx.urlSchemes);
    const p = new Peer(this.ctx, id, norm);
    this.peers.set(id, p);
    this.peersVersion++;
    p.start();
    this.ctx.logger.debug({ 'remote-peer-id': formatId(id), 'remote-peer-urls': norm }, 'added remote peer');
  }

  /** Removes a member; idempotent. */
  removePeer(id: Id): void {
    const p = this.peers.get(id);
    if (!p) {
      this.ctx.logger.warn({ 'remote-peer-id': isId(id) ? formatId(id) : String(id) }, 'skipped removing already removed peer');
      return;
    }
    this.peers.delete(id);
    this.peersVersion++;
    this.track(p.stop());
    this.ctx.logger.debug({ 'remote-peer-id': formatId(id) }, 'removed remote peer');
  }

  removeAllPeers(): void {
    for (const id of [...this.peers.keys()]) this.removePeer(id);
  }

  /** Replaces a peer's URLs (the picker restarts at the first); unknown IDs are ignored. */
  updatePeer(id: Id, urls: readonly string[]): void {
    const p = this.peers.get(id);
    if (!p) return;
    const norm = normalizePeerUrls(urls, this.ctx.urlSchemes);
    p.update(norm);
    this.ctx.logger.info({ 'remote-peer-id': formatId(id), 'remote-peer-urls': norm }, 'updated remote peer');
  }

  /**
   * Adds a pipeline-only sender to a member that is not a peer. A no-op when
   * stopped, when `id` is a peer or already a remote, or when the number of
   * remotes is at its cap. Throws ERR_INVALID_URL for bad URLs.
   */
  addRemote(id: Id, urls: readonly string[]): void {
    if (this.state !== 'started' || this.peers.has(id) || this.remotes.has(id) || id === this.ctx.id) return;
    const norm = normalizePeerUrls(urls, this.ctx.urlSchemes);
    if (this.remotes.size >= this.ctx.limits.maxRemotes) {
      this.ctx.logger.warn(
        { 'remote-peer-id': formatId(id), 'max-remotes': this.ctx.limits.maxRemotes },
        'ignored new remote peer; too many remotes',
      );
      return;
    }
    this.remotes.set(id, new Remote(this.ctx, id, norm));
  }

  /** Activation time (ms since the epoch) of a peer, or 0 when inactive or unknown. */
  activeSince(id: Id): number {
    return this.peers.get(id)?.status.since ?? 0;
  }

  /** Number of active peers. */
  activePeers(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.status.active) n++;
    return n;
  }

  /** IDs of the known peers. */
  peerIds(): Id[] {
    return [...this.peers.keys()];
  }

  /** IDs of the remotes. */
  remoteIds(): Id[] {
    return [...this.remotes.keys()];
  }

  /** What the prober knows of a peer. */
  probingStatus(id: Id): Readonly<ProbingStatus> | undefined {
    return this.peers.get(id)?.prober.status;
  }

  /**
   * The peer object, for tests and diagnostics only: its type is the transport's internal
   * `Peer` (not exported) and may change in any release.
   */
  get(id: Id): Peer | undefined {
    return this.peers.get(id);
  }

  /** Testing: drops every message to and from every peer. */
  pause(): void {
    for (const p of this.peers.values()) p.pause();
  }

  resume(): void {
    for (const p of this.peers.values()) p.resume();
  }

  /** Testing: drops every message to and from one peer (and its remote). */
  cutPeer(id: Id): void {
    this.peers.get(id)?.pause();
    this.remotes.get(id)?.pause();
  }

  mendPeer(id: Id): void {
    this.peers.get(id)?.resume();
    this.remotes.get(id)?.resume();
  }

  /** This member and its peers with their URLs: what `GET /members` lists when the host gives no list. */
  private knownMembers(): ClusterMember[] {
    const member = (id: Id, urls: readonly string[]): ClusterMember => ({ id, name: '', peerURLs: urls, clientURLs: [], isLearner: false });
    return [member(this.ctx.id, this.ctx.urls), ...[...this.peers].map(([id, p]) => member(id, p.picker.list()))];
  }

  private track(p: Promise<void>): void {
    const tracked = p.finally(() => {
      const i = this.stopping.indexOf(tracked);
      if (i >= 0) this.stopping.splice(i, 1);
    });
    this.stopping.push(tracked);
  }
}
