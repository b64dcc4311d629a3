/**
 * One member of a compliance-suite cluster, as the suite drives it: a real
 * `Transport` with a {@link RecordingRaft}, seen only through what a user of
 * the transport sees (its methods, its events, what raft was told).
 *
 * Every method is asynchronous and every value is plain data (IDs, numbers,
 * strings, bytes, messages), so a member can live anywhere: in this process
 * ({@link LocalComplianceMember}), or in a browser page, a worker or another
 * process, driven through {@link complianceMemberHost} on its side and
 * {@link remoteComplianceMember} on the suite's side. No test framework is
 * imported here: this module runs wherever the member runs.
 */
import { concatBytes } from '../bytes.js';
import { ErrorCode, RaftwireError } from '../errors.js';
import type { TransportEventName, TransportEvents } from '../events.js';
import type { Id } from '../ids.js';
import type { Link, LinkHeaders, ProtocolHandler } from '../link.js';
import type { Message } from '../message.js';
import type { SnapshotStatus, Timeouts, TransportOptions } from '../options.js';
import type { ProbingStatus } from '../prober.js';
import { Transport } from '../transport.js';
import { RecordingRaft, patternBody } from './helpers.js';

/** What the suite tells a cluster factory before it makes the members. */
export interface ComplianceSetup {
  readonly clusterId: Id;
  /** `ids[i]` is member i's ID (its link may need it up front, e.g. WebRTC). */
  readonly ids: readonly Id[];
  /** Transport timeouts every member must use. */
  readonly timeouts: Partial<Timeouts>;
}

/** A transport event as plain data: its name, when it happened (the member's `Date.now()`), and its fields. */
export type ComplianceEvent = {
  [K in TransportEventName]: { name: K; at: number } & PlainEvent<Parameters<TransportEvents[K]>[0]>;
}[TransportEventName];

type PlainEvent<T> = { [K in keyof T]: K extends 'error' ? { code: ErrorCode; message: string } : T[K] };

const EVENT_NAMES = [
  'peer:active',
  'peer:inactive',
  'message:dropped',
  'removed',
  'stream:attached',
  'stream:closed',
  'snapshot:progress',
  'snapshot:done',
  'snapshot:failed',
] as const satisfies readonly TransportEventName[];
// Every event of the transport is recorded: this fails to compile when one is added and not listed.
const everyEventListed: Exclude<TransportEventName, (typeof EVENT_NAMES)[number]> extends never ? true : never = true;
void everyEventListed;

/** What the member's raft was told (RecordingRaft, without the messages: see `received`). */
export interface ComplianceRaftView {
  /** Messages processed so far. */
  received: number;
  unreachable: Id[];
  snapshotReports: { id: Id; status: SnapshotStatus }[];
  /** Snapshot bodies taken by `receiveSnapshot`, with the error code they ended with. */
  snapshots: { size: number; received: number; checksum: number; error: ErrorCode | null }[];
}

/** The body of a snapshot a member sends: {@link patternBody} bytes. */
export interface ComplianceSnapshotBody {
  /** Bytes the body yields. */
  bytes: number;
  /** Size declared to the transport (differs from `bytes` to test a short or long body). */
  declaredSize: number;
  chunkSize?: number;
  /** Keep the body open after its last byte until `releaseHeldBodies()` (so the receiver sees the bytes before the body ends). */
  holdBeforeEnd?: boolean;
}

/** A request made directly on the member's link (the suite's protocol checks). */
export interface ComplianceRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: LinkHeaders;
  body?: Uint8Array;
  /** `link.openStream` instead of `link.request`. */
  stream?: boolean;
}

export interface ComplianceResponse {
  status: number;
  headers: LinkHeaders;
  /** The whole response body. */
  body: Uint8Array;
}

/**
 * The suite's handle on one member. Methods that start something the suite
 * times resolve with the member's `Date.now()` when they started it, on the
 * same clock as {@link ComplianceEvent.at}.
 */
export interface ComplianceMember {
  readonly id: Id;
  /** The member's peer URL. */
  readonly url: string;
  addPeer(id: Id, urls: readonly string[]): Promise<number>;
  removePeer(id: Id): Promise<number>;
  send(msgs: readonly Message[]): Promise<number>;
  sendSnapshot(msg: Message, body: ComplianceSnapshotBody): Promise<SnapshotStatus>;
  /** Lets every body held by `holdBeforeEnd` end. */
  releaseHeldBodies(): Promise<void>;
  /** Stops the transport; resolves with how long `stop()` took, in ms. */
  stop(): Promise<number>;
  activeSince(id: Id): Promise<number>;
  activePeers(): Promise<number>;
  probingStatus(id: Id): Promise<ProbingStatus | null>;
  /** Every transport event so far, oldest first, from index `from`. */
  events(from?: number): Promise<ComplianceEvent[]>;
  raft(): Promise<ComplianceRaftView>;
  /** Messages raft processed, from index `from`. */
  received(from?: number): Promise<Message[]>;
  /** Raft says `id` was removed from the cluster (`isIdRemoved`). */
  markRemoved(id: Id): Promise<void>;
  /** Raft's `process()` fails from now on with ERR_MEMBER_REMOVED (raft has just removed the sender). */
  failProcessAsRemoved(): Promise<void>;
  request(url: string, req: ComplianceRequest): Promise<ComplianceResponse>;
}

/** What a {@link LocalComplianceMember} needs: the endpoint it serves on and dials with. */
export interface LocalComplianceMemberOptions {
  id: Id;
  clusterId: Id;
  url: string;
  link: Link;
  /** Installs the transport's handler behind `url`. */
  serve(handler: ProtocolHandler): void | Promise<void>;
  timeouts?: Partial<Timeouts>;
  /** Anything else for the transport (a logger, metrics). */
  transportOptions?: Partial<Omit<TransportOptions, 'id' | 'clusterId' | 'urls' | 'link' | 'raft'>>;
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return concatBytes(parts);
}

/** A compliance member in this process: a started `Transport` over the given link, served at `url`. */
export class LocalComplianceMember implements ComplianceMember {
  readonly id: Id;
  readonly url: string;
  readonly transport: Transport;
  readonly recording = new RecordingRaft();
  private readonly link: Link;
  private readonly log: ComplianceEvent[] = [];
  private held: (() => void)[] = [];

  private constructor(options: LocalComplianceMemberOptions) {
    this.id = options.id;
    this.url = options.url;
    this.link = options.link;
    this.recording.keepSnapshotBytes = 0;
    this.transport = new Transport({
      ...options.transportOptions,
      timeouts: { ...options.transportOptions?.timeouts, ...options.timeouts },
      id: options.id,
      clusterId: options.clusterId,
      urls: [options.url],
      link: options.link,
      raft: this.recording,
    } as TransportOptions);
    for (const name of EVENT_NAMES) {
      this.transport.on(name, (e: object) => {
        const fields: Record<string, unknown> = { ...e };
        const error = (e as { error?: { code: ErrorCode; message: string } }).error;
        if (error !== undefined) fields.error = { code: error.code, message: error.message };
        this.log.push({ name, at: Date.now(), ...fields } as ComplianceEvent);
      });
    }
  }

  /** Makes the member, installs its handler, and starts its transport. */
  static async create(options: LocalComplianceMemberOptions): Promise<LocalComplianceMember> {
    const m = new LocalComplianceMember(options);
    await options.serve(m.transport.handler);
    m.transport.start();
    return m;
  }

  async addPeer(id: Id, urls: readonly string[]): Promise<number> {
    const at = Date.now();
    this.transport.addPeer(id, urls);
    return at;
  }

  async removePeer(id: Id): Promise<number> {
    const at = Date.now();
    this.transport.removePeer(id);
    return at;
  }

  async send(msgs: readonly Message[]): Promise<number> {
    const at = Date.now();
    this.transport.send(msgs);
    return at;
  }

  sendSnapshot(msg: Message, spec: ComplianceSnapshotBody): Promise<SnapshotStatus> {
    const pattern = patternBody(spec.bytes, spec.chunkSize);
    const hold = spec.holdBeforeEnd === true;
    const held = this.held;
    async function* body(): AsyncGenerator<Uint8Array> {
      yield* pattern;
      if (hold) await new Promise<void>((resolve) => held.push(resolve));
    }
    return this.transport.sendSnapshot(msg, body(), spec.declaredSize);
  }

  async releaseHeldBodies(): Promise<void> {
    for (const release of this.held.splice(0)) release();
  }

  async stop(): Promise<number> {
    const t0 = Date.now();
    const stopped = this.transport.stop();
    await this.releaseHeldBodies();
    await stopped;
    return Date.now() - t0;
  }

  async activeSince(id: Id): Promise<number> {
    return this.transport.activeSince(id);
  }

  async activePeers(): Promise<number> {
    return this.transport.activePeers();
  }

  async probingStatus(id: Id): Promise<ProbingStatus | null> {
    const s = this.transport.probingStatus(id);
    return s === undefined ? null : { ...s };
  }

  async events(from = 0): Promise<ComplianceEvent[]> {
    return this.log.slice(from);
  }

  async raft(): Promise<ComplianceRaftView> {
    const r = this.recording;
    return {
      received: r.received.length,
      unreachable: [...r.unreachable],
      snapshotReports: r.snapshotReports.map((s) => ({ ...s })),
      snapshots: r.snapshots.map((s) => ({ size: s.size, received: s.received, checksum: s.checksum, error: s.error?.code ?? null })),
    };
  }

  async received(from = 0): Promise<Message[]> {
    return this.recording.received.slice(from);
  }

  async markRemoved(id: Id): Promise<void> {
    this.recording.removed.add(id);
  }

  async failProcessAsRemoved(): Promise<void> {
    this.recording.processError = new RaftwireError(ErrorCode.MEMBER_REMOVED, 'the member has been permanently removed from the cluster');
  }

  async request(url: string, req: ComplianceRequest): Promise<ComplianceResponse> {
    const head = { method: req.method, path: req.path, headers: req.headers };
    const res = req.stream
      ? await this.link.openStream(url, head)
      : await this.link.request(url, req.body === undefined ? head : { ...head, body: req.body });
    return { status: res.status, headers: { ...res.headers }, body: await readAll(res.body) };
  }
}
