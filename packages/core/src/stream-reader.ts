import { ChildAbort, sleep } from './abort.js';
import { readText } from './body.js';
import type { TimerHandle } from './clock.js';
import type { TransportContext } from './context.js';
import { ErrorCode, RaftwireError, isRaftwireError } from './errors.js';
import { type Id, formatId } from './ids.js';
import type { LinkResponse } from './link.js';
import type { Logger } from './logger.js';
import { type Message, isLinkHeartbeat } from './message.js';
import { MetricName } from './metrics.js';
import type { PeerStatus } from './peer-status.js';
import type { UrlPicker } from './url-picker.js';
import { type Version, remoteSupportsStream } from './version.js';
import { ErrorText, Header, type StreamType, streamPath, streamTypeName } from './wire.js';

/**
 * Dials one stream type to a peer (receiver-initiated: the peer writes to us
 * on the connection we open) and hands decoded messages to `deliver`. Redials
 * at most every `dialRetry` ms; a dial must answer within `dial` ms; an open
 * stream that brings nothing (not even a link heartbeat) for `read` ms is
 * dropped. A 410 means this member was removed: `removed` is emitted at once.
 */
export class StreamReader {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private paused = false;
  private removedReported = false;
  private readonly log: Logger;
  private readonly peerHex: string;
  private readonly typeName: string;
  /** Streams established so far (tests, diagnostics). */
  established = 0;
  /** True while a stream is open. */
  working = false;

  constructor(
    private readonly ctx: TransportContext,
    readonly peerId: Id,
    readonly type: StreamType,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
    private readonly deliver: (m: Message) => void,
  ) {
    this.peerHex = formatId(peerId);
    this.typeName = streamTypeName(type);
    this.log = ctx.logger.child({ 'remote-peer-id': this.peerHex, 'stream-type': this.typeName });
  }

  start(): void {
    this.loop ??= this.run();
    this.log.debug({}, 'started stream reader with remote peer');
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'stream reader stopped'));
    await this.loop;
    this.log.debug({}, 'stopped stream reader with remote peer');
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const started = this.ctx.clock.now();
      let wait = this.ctx.timeouts.dialRetry;
      try {
        const conn = await this.dial(signal);
        this.removedReported = false;
        await this.readLoop(conn.res, conn.child);
      } catch (err) {
        if (signal.aborted) break;
        if (isRaftwireError(err, ErrorCode.UNSUPPORTED_STREAM)) {
          this.log.debug({ error: err.message }, 'stream type not supported by remote peer; not dialling it for now');
          wait = this.ctx.timeouts.unsupportedRetry;
        } else {
          this.status.deactivate({ source: this.typeName, action: 'dial' }, err instanceof Error ? err.message : String(err));
        }
      }
      const left = started + wait - this.ctx.clock.now();
      try {
        await sleep(this.ctx.clock, Math.max(0, left), signal);
      } catch {
        break;
      }
    }
  }

  /** One dial: resolves with an open 200 stream or rejects with why not. */
  private async dial(signal: AbortSignal): Promise<{ res: LinkResponse; child: ChildAbort }> {
    const url = this.picker.pick();
    const child = new ChildAbort(
      signal,
      this.ctx.clock,
      this.ctx.timeouts.dial,
      () => new RaftwireError(ErrorCode.TIMEOUT, `dial timed out after ${this.ctx.timeouts.dial} ms`),
    );
    let res: LinkResponse;
    try {
      res = await this.ctx.link.openStream(url, {
        method: 'GET',
        path: streamPath(this.type, this.ctx.idHex),
        headers: this.ctx.requestHeaders({ [Header.raftTo]: this.peerHex }),
        signal: child.signal,
      });
    } catch (err) {
      child.dispose();
      this.picker.unreachable(url);
      throw isRaftwireError(err) ? err : new RaftwireError(ErrorCode.LINK, String(err), { cause: err });
    }
    child.clearTimeout();
    const fail = async (e: RaftwireError, readBody = false): Promise<never> => {
      const text = readBody ? await readText(res.body) : '';
      child.abort(e);
      this.picker.unreachable(url);
      if (readBody) throw this.preconditionFailed(text, res);
      throw e;
    };
    const rv = res.headers[Header.serverVersion];
    let remoteVersion: Version;
    try {
      remoteVersion = this.ctx.profile.headerVersion(rv);
    } catch (err) {
      return fail(new RaftwireError(ErrorCode.INVALID_VERSION, `remote sent a malformed version: ${(err as Error).message}`));
    }
    if (!remoteSupportsStream(this.ctx.versionParsed, remoteVersion, this.type, this.ctx.streamSupport)) {
      return fail(new RaftwireError(ErrorCode.UNSUPPORTED_STREAM, `remote version ${rv ?? '(none)'} does not serve ${this.typeName}`));
    }
    switch (res.status) {
      case 200:
        return { res, child };
      case 410:
        if (!this.removedReported) {
          this.removedReported = true;
          this.ctx.reportRemoved(this.peerId, `stream dial answered 410 by ${this.peerHex}`);
        }
        return fail(new RaftwireError(ErrorCode.MEMBER_REMOVED, 'the member has been permanently removed from the cluster'));
      case 404:
        this.log.warn({ url }, `peer ${this.peerHex} failed to find local node ${this.ctx.idHex}`);
        return fail(new RaftwireError(ErrorCode.UNEXPECTED_STATUS, `peer ${this.peerHex} failed to find local node ${this.ctx.idHex}`));
      case 412:
        return fail(new RaftwireError(ErrorCode.UNEXPECTED_STATUS, 'precondition failed'), true);
      default:
        return fail(new RaftwireError(ErrorCode.UNEXPECTED_STATUS, `unhandled http status ${res.status}`));
    }
  }

  private preconditionFailed(body: string, res: LinkResponse): RaftwireError {
    const text = body.replace(/\n$/, '');
    const fields = {
      'local-cluster-id': this.ctx.clusterIdHex,
      'remote-cluster-id': res.headers[Header.clusterId] ?? '',
      'local-version': this.ctx.version,
      'remote-version': res.headers[Header.serverVersion] ?? '',
    };
    if (text === ErrorText.incompatibleVersion) {
      this.log.warn(fields, 'failed to dial remote peer due to server version incompatibility');
      return new RaftwireError(ErrorCode.INCOMPATIBLE_VERSION, `peer ${this.peerHex}: incompatible version`);
    }
    if (text === ErrorText.clusterIdMismatch) {
      this.log.warn(
        fields,
        `failed to dial remote peer due to cluster ID mismatch (local cluster ${this.ctx.clusterIdHex}, remote cluster ${fields['remote-cluster-id'] || 'unknown'})`,
      );
      return new RaftwireError(
        ErrorCode.CLUSTER_ID_MISMATCH,
        `cluster ID mismatch: local ${this.ctx.clusterIdHex}, remote ${fields['remote-cluster-id'] || 'unknown'}`,
      );
    }
    this.log.warn(fields, `unhandled error ${JSON.stringify(text.slice(0, 200))} when precondition failed`);
    return new RaftwireError(ErrorCode.UNEXPECTED_STATUS, `unhandled error ${JSON.stringify(text.slice(0, 200))} when precondition failed`);
  }

  private async readLoop(res: LinkResponse, child: ChildAbort): Promise<void> {
    const decoder = this.ctx.profile.streamDecoder(this.type, { from: this.peerId, to: this.ctx.id }, this.ctx.limits.maxMessageBytes);
    const clock = this.ctx.clock;
    const readTimeout = this.ctx.timeouts.read;
    let last = clock.now();
    let timer: TimerHandle | undefined;
    const arm = (ms: number): void => {
      timer = clock.setTimeout(() => {
        timer = undefined;
        const idle = clock.now() - last;
        if (idle >= readTimeout) {
          child.abort(new RaftwireError(ErrorCode.TIMEOUT, `no data on the stream for ${readTimeout} ms`));
        } else {
          arm(readTimeout - idle);
        }
      }, ms);
    };
    arm(readTimeout);
    this.established++;
    this.working = true;
    this.status.activate();
    this.log.debug({}, 'established TCP streaming connection with remote peer');
    this.ctx.events.emit('stream:attached', { id: this.peerId, type: this.type, direction: 'in' });
    let reason = 'remote closed the stream';
    const fromLabels = { From: this.peerHex };
    // One sink per stream: decoded messages go straight to raft's queue, no array per chunk.
    const sink = (m: Message): void => {
      if (this.paused || isLinkHeartbeat(m)) return;
      this.deliver(m);
    };
    try {
      for await (const chunk of res.body) {
        last = clock.now();
        // Counted as it arrives (a healthy stream lives for days), as etcd counts each message read.
        this.ctx.metrics.inc(MetricName.peerReceivedBytes, fromLabels, chunk.length);
        if (decoder.pushTo !== undefined) decoder.pushTo(chunk, sink);
        else for (const m of decoder.push(chunk)) sink(m);
        if (child.signal.aborted) break;
      }
      if (child.signal.aborted) throw child.signal.reason;
      decoder.end();
    } catch (err) {
      const e = child.signal.aborted && child.signal.reason !== undefined ? child.signal.reason : err;
      reason = e instanceof Error ? e.message : String(e);
      if (!this.abort.signal.aborted) {
        this.status.deactivate({ source: this.typeName, action: 'read' }, reason);
        this.ctx.metrics.inc(MetricName.peerReceivedFailures, { From: this.peerHex });
      }
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
      child.abort(new RaftwireError(ErrorCode.LINK, 'stream reader closed the stream'));
      this.working = false;
      if (!this.abort.signal.aborted) this.log.warn({ error: reason }, 'lost TCP streaming connection with remote peer');
      this.ctx.events.emit('stream:closed', { id: this.peerId, type: this.type, direction: 'in', reason });
    }
  }
}
