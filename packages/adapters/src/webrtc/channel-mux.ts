import { ErrorCode, RaftwireError, closeIterator, isRaftwireError, isReleasableBody, onAbort, serveRequest } from '@raftwire/core';
import type { LinkBody, LinkRequest, LinkResponse, Logger, ProtocolHandler } from '@raftwire/core';
import { BodyQueue } from './body-queue.js';
import {
  type RequestHead,
  type ResetReason,
  decodeRequestHead,
  decodeReset,
  decodeResponseHead,
  encodeRequestHead,
  encodeReset,
  encodeResponseHead,
  remoteResetError,
} from './exchange-head.js';
import {
  type Capabilities,
  FrameType,
  MAX_REQUEST_ID,
  MAX_WIRE_FRAME_BYTES,
  type MuxFrame,
  decodeCapabilities,
  decodeMuxFrame,
  decodeVarint,
  encodeCapabilities,
  encodeMuxFrame,
  encodeVarint,
  fragment,
} from './mux-frame.js';
import type { DataChannelPort } from './peer-connection-port.js';
import { Reassembler } from './reassembler.js';
import type { SendPacer } from './send-pacer.js';

/**
 * Flow-control window of every body direction, fixed by the protocol: a
 * sender has this many bytes of credit when an exchange starts and gets more
 * back (WINDOW frames) as the receiver's consumer reads. This bounds what a
 * receiver buffers per exchange, end to end, whatever the consumer's speed.
 */
export const WINDOW_BYTES = 1024 * 1024;
/** Body chunks larger than this are sent as several messages (≤ WINDOW_BYTES / 4 so credit always comes back). */
export const MAX_SEND_MESSAGE_BYTES = 256 * 1024;
/**
 * The window of the bulk (snapshot) channel. Everything a window lets a
 * sender put in flight sits in the one SCTP association and in the
 * receiver's event queue ahead of a heartbeat sent later on another channel,
 * so the bulk channel's window is what bounds the heartbeat's wait (at
 * 40 MB/s, 1 MiB is ~25 ms; 256 KiB ~6 ms) at no cost in snapshot
 * throughput on loopback (bench/src/webrtc.ts).
 */
export const BULK_WINDOW_BYTES = 256 * 1024;
/**
 * What a sender keeps in flight (sent, not yet granted back) per exchange on the bulk channel:
 * less than the window the receiver allows, so at most this much snapshot data sits anywhere
 * between the two event loops ahead of a heartbeat (one SCTP association, one receive queue).
 * At least a quarter of {@link BULK_WINDOW_BYTES}, the step an earlier receiver grants in, so a
 * sender never waits for a grant such a receiver would not send.
 */
export const BULK_SEND_WINDOW_BYTES = 128 * 1024;
/**
 * The receiver on the bulk channel grants credit back as soon as this much was read (instead
 * of a quarter of the window), so a sender that keeps less than the window in flight is never
 * stop-and-wait.
 */
export const BULK_GRANT_STEP_BYTES = 16 * 1024;
/**
 * What the receiver of the msgapp stream lets the sender keep unread in Node (instead of the
 * protocol's {@link WINDOW_BYTES}): it grants the difference as soon as the exchange starts,
 * which any sender (this version or an earlier one) simply adds to its credit, and buffers up to
 * this much. 1 MiB stalled node-datachannel's msgapp stream at ~0.8 of a raw channel: everything
 * sent and not yet read by the receiver's event loop counts against the window, including what
 * sits in the SCTP stacks of both ends, and the grant's way back crosses both event loops and
 * both stacks' threads (bench/src/webrtc.ts, docs/webrtc.md).
 */
export const STREAM_RECEIVE_WINDOW_BYTES = 4 * 1024 * 1024;
/**
 * The msgapp receive window where none is configured: {@link STREAM_RECEIVE_WINDOW_BYTES} in
 * Node (and other runtimes with `setImmediate`), the protocol window in a browser page, where the
 * receiver's event loop is the page's main thread: with 4 MiB the Chromium bench (both members in
 * one page) fell from 1.30–1.44 × its raw channel to 0.45–0.92 × (docs/webrtc.md).
 */
export const DEFAULT_MSGAPP_RECEIVE_WINDOW_BYTES = typeof setImmediate === 'function' ? STREAM_RECEIVE_WINDOW_BYTES : WINDOW_BYTES;
/** Requests one peer may have open on one channel at once; more are reset with ERR_BUFFER_FULL. */
export const MAX_SERVED_EXCHANGES = 1024;
/** Default cap on one reassembled message (a head or a body chunk). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface ChannelMuxOptions {
  channel: DataChannelPort;
  pacer: SendPacer;
  /** The server side; undefined answers 503. Read on every request, so it may be set late. */
  handler: () => ProtocolHandler | undefined;
  /** Passed as `HandlerRequest.remoteAddress`. */
  remoteAddress: string;
  /** Cap on one reassembled message. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  maxMessageBytes?: number;
  /**
   * Flow-control window of every exchange on this channel, in both
   * directions. Both ends must use the same value for a channel (it is
   * derived from the channel label). Default {@link WINDOW_BYTES}.
   */
  windowBytes?: number;
  /**
   * Sender side only: credit this end uses per exchange at most (≤ windowBytes, ≥ windowBytes / 4,
   * the step an earlier receiver grants in). Default windowBytes.
   */
  sendWindowBytes?: number;
  /**
   * Receiver side: what this end lets a sender keep unread per exchange (≥ windowBytes). The part
   * over windowBytes is granted as a WINDOW frame as soon as the exchange starts (an earlier
   * sender adds it to its credit like any grant). Default windowBytes (no extra grant).
   */
  receiveWindowBytes?: number;
  /** Receiver side: grant credit back once this much was read. Default (and at most) windowBytes / 4. */
  grantStepBytes?: number;
  /**
   * Before each body message, let the event loop run one turn (pending I/O, timers) first: on
   * the bulk channel this puts every message-stream frame due in this turn (a heartbeat, the
   * answer to one just received) on the wire before the next snapshot message. Default false.
   */
  yieldPerMessage?: boolean;
  /** Largest data-channel message to send now (read per message: negotiated per connection). Default 16 KiB. */
  frameBytes?: () => number;
  /** Sent as the payload of every PONG (and of {@link ChannelMux.hello}'s PING). Undefined: empty, as earlier versions. */
  localCapabilities?: Capabilities;
  /** The remote announced its capabilities (in a PING or a PONG). */
  onCapabilities?: (caps: Capabilities) => void;
  logger: Logger;
  /** The remote broke the framing protocol: the connection must go. */
  onProtocolError: (err: RaftwireError) => void;
}

interface Exchange {
  id: number;
  /** True when this side opened the request. */
  client: boolean;
  reassembler: Reassembler;
  /** The body coming in: the response body (client) or the request body (server). */
  inBody: BodyQueue;
  inEnded: boolean;
  outEnded: boolean;
  reset: boolean;
  /** Send credit for the outgoing body. */
  credit: number;
  creditWaiter: (() => void) | undefined;
  /** Credit consumed locally and not yet granted back to the sender. */
  ungranted: number;
  /** Aborted when the exchange is reset (by either side) or the connection closes. */
  abort: AbortController;
  onHead: ((head: Uint8Array) => void) | undefined;
  /** Runs once when the exchange leaves its table (finished or reset): drops listeners on caller signals. */
  onDone: (() => void) | undefined;
}

/**
 * Carries the Link contract over one data channel: many concurrent requests
 * and streams, each opened by a header frame, with DATA, END, RESET and
 * WINDOW frames tagged by request id. Both members are client and server on
 * the same channel; the FROM_CLIENT bit keeps the two id spaces apart.
 */
export class ChannelMux {
  private readonly channel: DataChannelPort;
  private readonly pacer: SendPacer;
  private readonly maxMessageBytes: number;
  private readonly windowBytes: number;
  private readonly sendWindowBytes: number;
  private readonly receiveWindowBytes: number;
  private readonly grantStepBytes: number;
  private readonly frameBytes: () => number;
  private readonly yieldPerMessage: boolean;
  private readonly capsPayload: Uint8Array;
  /** Body chunks are sent as messages of at most this (a quarter of the window, so credit always comes back). */
  private readonly maxSendMessageBytes: number;
  private readonly log: Logger;
  private readonly clientExchanges = new Map<number, Exchange>();
  private readonly serverExchanges = new Map<number, Exchange>();
  private nextId = 1;
  private closedError: RaftwireError | undefined;

  constructor(private readonly options: ChannelMuxOptions) {
    this.channel = options.channel;
    this.pacer = options.pacer;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.windowBytes = options.windowBytes ?? WINDOW_BYTES;
    if (!(Number.isInteger(this.windowBytes) && this.windowBytes >= 64 * 1024)) {
      throw new RangeError(`windowBytes must be an integer of at least 64 KiB, got ${this.windowBytes}`);
    }
    this.sendWindowBytes = options.sendWindowBytes ?? this.windowBytes;
    if (!(this.sendWindowBytes >= this.windowBytes / 4 && this.sendWindowBytes <= this.windowBytes)) {
      throw new RangeError(`sendWindowBytes must be in [windowBytes / 4, windowBytes], got ${this.sendWindowBytes}`);
    }
    this.receiveWindowBytes = options.receiveWindowBytes ?? this.windowBytes;
    if (!(Number.isInteger(this.receiveWindowBytes) && this.receiveWindowBytes >= this.windowBytes)) {
      throw new RangeError(`receiveWindowBytes must be an integer of at least windowBytes, got ${this.receiveWindowBytes}`);
    }
    this.grantStepBytes = Math.min(options.grantStepBytes ?? this.windowBytes / 4, this.windowBytes / 4);
    this.frameBytes = options.frameBytes ?? (() => MAX_WIRE_FRAME_BYTES);
    this.yieldPerMessage = options.yieldPerMessage ?? false;
    this.capsPayload = options.localCapabilities === undefined ? EMPTY : encodeCapabilities(options.localCapabilities);
    // Two messages in flight at least, so a grant is on its way while the next message goes out.
    this.maxSendMessageBytes = Math.min(MAX_SEND_MESSAGE_BYTES, this.windowBytes / 4, this.sendWindowBytes / 2);
    this.log = options.logger;
  }

  /** Exchanges in progress (both roles). */
  get activeExchanges(): number {
    return this.clientExchanges.size + this.serverExchanges.size;
  }

  /** Feeds one data-channel message. */
  receive(bytes: Uint8Array): void {
    if (this.closedError) return;
    let frame: MuxFrame;
    try {
      frame = decodeMuxFrame(bytes);
    } catch (err) {
      this.options.onProtocolError(isRaftwireError(err) ? err : new RaftwireError(ErrorCode.DECODE, String(err)));
      return;
    }
    if (frame.type === FrameType.PING || frame.type === FrameType.PONG) {
      // An earlier version sends both empty (and ignores what ours carry): no capabilities then.
      const caps = decodeCapabilities(frame.payload);
      if (caps !== undefined) this.options.onCapabilities?.(caps);
      if (frame.type === FrameType.PING) {
        this.sendControl(encodeMuxFrame({ type: FrameType.PONG, requestId: 0, fromClient: false, more: false, payload: this.capsPayload }));
      }
      return; // a PONG's arrival is the liveness signal
    }
    // A frame from the client side belongs to an exchange we serve, and vice versa.
    const table = frame.fromClient ? this.serverExchanges : this.clientExchanges;
    let ex = table.get(frame.requestId);
    if (ex === undefined) {
      if (!(frame.fromClient && frame.type === FrameType.HEAD)) return; // late frame of a finished exchange
      if (this.serverExchanges.size >= MAX_SERVED_EXCHANGES) {
        this.log.warn({ limit: MAX_SERVED_EXCHANGES }, 'too many concurrent requests from the peer; refusing one');
        const reason = { code: ErrorCode.BUFFER_FULL, message: `over ${MAX_SERVED_EXCHANGES} concurrent requests` };
        this.sendControl(
          encodeMuxFrame({
            type: FrameType.RESET,
            requestId: frame.requestId,
            fromClient: false,
            more: false,
            payload: encodeReset(reason),
          }),
        );
        return;
      }
      ex = this.newExchange(frame.requestId, false);
      this.serverExchanges.set(frame.requestId, ex);
      const serverEx = ex;
      serverEx.onHead = (head) => void this.serve(serverEx, head);
      // A request body may follow (not a one-frame head with FIN): offer the larger window now.
      if (frame.fin !== true) this.grantReceiveWindow(ex);
    }
    try {
      this.onFrame(ex, frame);
      if (frame.fin === true && !ex.reset) this.onEnd(ex);
    } catch (err) {
      const e = isRaftwireError(err) ? err : new RaftwireError(ErrorCode.DECODE, String(err));
      this.resetExchange(ex, e, true);
    }
  }

  private onFrame(ex: Exchange, frame: MuxFrame): void {
    switch (frame.type) {
      case FrameType.HEAD: {
        const head = ex.reassembler.push(frame.payload, frame.more);
        if (head === null) return;
        const onHead = ex.onHead;
        if (onHead === undefined) throw new RaftwireError(ErrorCode.DECODE, `second head frame for request ${ex.id}`);
        ex.onHead = undefined;
        onHead(head);
        return;
      }
      case FrameType.DATA: {
        if (ex.onHead !== undefined) throw new RaftwireError(ErrorCode.DECODE, `data before head on request ${ex.id}`);
        const msg = ex.reassembler.push(frame.payload, frame.more);
        if (msg !== null && !ex.inEnded && !ex.inBody.push(msg)) {
          throw new RaftwireError(ErrorCode.BUFFER_FULL, `request ${ex.id}: the sender ignored flow control`);
        }
        return;
      }
      case FrameType.END:
        this.onEnd(ex);
        return;
      case FrameType.RESET:
        this.onRemoteReset(ex, decodeReset(frame.payload));
        return;
      case FrameType.WINDOW:
        ex.credit += decodeVarint(frame.payload, 'window credit');
        ex.creditWaiter?.();
        return;
    }
  }

  private onEnd(ex: Exchange): void {
    if (ex.onHead !== undefined) throw new RaftwireError(ErrorCode.DECODE, `end before head on request ${ex.id}`);
    if (ex.reassembler.pendingBytes > 0) throw new RaftwireError(ErrorCode.TRUNCATED, `body of request ${ex.id} ended inside a message`);
    if (ex.inEnded) throw new RaftwireError(ErrorCode.DECODE, `second end on request ${ex.id}`);
    ex.inEnded = true;
    ex.inBody.end();
    this.maybeFinish(ex);
  }

  private newExchange(id: number, client: boolean): Exchange {
    const ex: Exchange = {
      id,
      client,
      reassembler: new Reassembler(this.maxMessageBytes),
      inBody: undefined as unknown as BodyQueue,
      inEnded: false,
      outEnded: false,
      reset: false,
      credit: this.sendWindowBytes,
      creditWaiter: undefined,
      ungranted: 0,
      abort: new AbortController(),
      onHead: undefined,
      onDone: undefined,
    };
    ex.inBody = new BodyQueue(this.receiveWindowBytes, {
      onConsumed: (n) => this.grant(ex, n),
      onCancel: () => this.resetExchange(ex, new RaftwireError(ErrorCode.ABORTED, 'body reader went away'), true),
    });
    return ex;
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
      if (!this.clientExchanges.has(id)) return id;
    }
  }

  /**
   * Client side: sends the head and the body, resolves with the response head.
   * The response body is the exchange's incoming body queue.
   */
  request(req: LinkRequest): Promise<LinkResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const signal = req.signal;
    if (signal?.aborted) return Promise.reject(new RaftwireError(ErrorCode.ABORTED, 'request aborted'));
    const ex = this.newExchange(this.allocateId(), true);
    this.clientExchanges.set(ex.id, ex);
    return new Promise<LinkResponse>((resolve, reject) => {
      // Both listeners go when the exchange leaves its table, so a long-lived caller signal keeps none.
      const disposeCaller = onAbort(signal, () => this.resetExchange(ex, new RaftwireError(ErrorCode.ABORTED, 'request aborted'), true));
      const disposeReset = onAbort(ex.abort.signal, () => reject(ex.abort.signal.reason));
      ex.onDone = () => {
        disposeCaller();
        disposeReset();
      };
      ex.onHead = (bytes) => {
        const head = decodeResponseHead(bytes);
        resolve({ status: head.status, headers: head.headers, body: ex.inBody });
        // Once the head is in, abort still cancels the body (the queue fails with ERR_ABORTED).
      };
      const head = encodeRequestHead({ method: req.method, path: req.path, headers: req.headers });
      this.sendHeadAndBody(ex, head, req.body).catch((err: unknown) => this.resetExchange(ex, toLinkError(err), true));
    });
  }

  /** Server side: runs the handler for a request head and writes its response. */
  private async serve(ex: Exchange, headBytes: Uint8Array): Promise<void> {
    let head: RequestHead;
    try {
      head = decodeRequestHead(headBytes);
    } catch (err) {
      this.resetExchange(ex, toLinkError(err), true);
      return;
    }
    const res = await serveRequest(
      this.options.handler(),
      {
        method: head.method,
        path: head.path,
        headers: head.headers,
        body: ex.inBody,
        remoteAddress: this.options.remoteAddress,
        signal: ex.abort.signal,
      },
      { gone: () => ex.reset, logger: this.log },
    );
    if (res === undefined) return; // reset while the handler ran: its answer was closed unread
    try {
      await this.sendHeadAndBody(ex, encodeResponseHead({ status: res.status, headers: res.headers }), res.body);
      // The response is complete. If the request body is still coming, nobody will read it.
      if (!ex.inEnded) this.resetExchange(ex, new RaftwireError(ErrorCode.ABORTED, 'response complete before request body'), true);
    } catch (err) {
      this.resetExchange(ex, toLinkError(err), true);
    }
  }

  /**
   * Writes the head, then the body (whole or streamed), then its end. A whole
   * body ends with FIN on its last frame (no body: on the head's), a streamed
   * one with an END frame. Stops, closing the iterable, once the exchange is reset.
   */
  private async sendHeadAndBody(ex: Exchange, head: Uint8Array, body: LinkBody | undefined): Promise<void> {
    const whole = body === undefined ? EMPTY : body instanceof Uint8Array ? body : undefined;
    await this.sendMessage(ex, FrameType.HEAD, head, whole !== undefined && whole.length === 0);
    // The response body may be a stream: the server has the exchange now, so offer the larger window.
    if (ex.client) this.grantReceiveWindow(ex);
    if (whole !== undefined) {
      if (whole.length > 0) await this.sendData(ex, whole, true);
      ex.outEnded = true;
      this.maybeFinish(ex);
      return;
    }
    await this.sendStreamedBody(ex, body as AsyncIterable<Uint8Array>);
  }

  private async sendStreamedBody(ex: Exchange, body: AsyncIterable<Uint8Array>): Promise<void> {
    // Every byte of a chunk is copied into the frames handed to the channel, so once a chunk is
    // sent its producer may reuse it (the stream writer then encodes into its small ring of batch
    // buffers instead of a fresh, zeroed buffer per batch).
    const releasable = isReleasableBody(body) ? body : undefined;
    releasable?.acceptReleases();
    const it = body[Symbol.asyncIterator]();
    // A reset stops the source at once, even while it waits for its next chunk.
    const disposeReset = onAbort(ex.abort.signal, () => closeIterator(it));
    try {
      for (;;) {
        const r = await it.next();
        if (r.done || ex.reset) break;
        await this.sendData(ex, r.value);
        releasable?.releaseChunk(r.value);
      }
    } catch (err) {
      if (!ex.reset) {
        disposeReset();
        closeIterator(it);
      }
      throw err;
    } finally {
      disposeReset();
    }
    if (ex.reset) return;
    await this.sendFrame(ex, encodeMuxFrame({ type: FrameType.END, requestId: ex.id, fromClient: ex.client, more: false, payload: EMPTY }));
    ex.outEnded = true;
    this.maybeFinish(ex);
  }

  /** Sends body bytes as messages of at most `maxSendMessageBytes`, each within flow-control credit; `fin` ends the body. */
  private async sendData(ex: Exchange, bytes: Uint8Array, fin = false): Promise<void> {
    for (let at = 0; at < bytes.length; at += this.maxSendMessageBytes) {
      const end = Math.min(at + this.maxSendMessageBytes, bytes.length);
      const msg = bytes.subarray(at, end);
      if (this.yieldPerMessage) {
        await nextTurn();
        if (ex.reset) throw ex.abort.signal.reason;
      }
      while (ex.credit < msg.length) {
        if (ex.reset) throw ex.abort.signal.reason;
        // resetExchange() calls creditWaiter too, so a reset never leaves this waiting.
        await new Promise<void>((resolve) => {
          ex.creditWaiter = resolve;
        });
        ex.creditWaiter = undefined;
      }
      ex.credit -= msg.length;
      await this.sendMessage(ex, FrameType.DATA, msg, fin && end === bytes.length);
    }
  }

  private async sendMessage(ex: Exchange, type: FrameType, message: Uint8Array, fin = false): Promise<void> {
    for (const frame of fragment(type, ex.id, ex.client, message, fin, this.frameBytes())) await this.sendFrame(ex, frame);
  }

  private async sendFrame(ex: Exchange, frame: Uint8Array): Promise<void> {
    if (ex.reset) throw ex.abort.signal.reason;
    await this.pacer.send(this.channel, frame, ex.abort.signal);
  }

  /** Sends a keepalive PING (the remote answers PONG). */
  ping(): void {
    this.sendControl(encodeMuxFrame({ type: FrameType.PING, requestId: 0, fromClient: false, more: false, payload: EMPTY }));
  }

  /** Announces this end's capabilities: a PING carrying them (a new remote answers with its own, an earlier one with an empty PONG). */
  hello(): void {
    this.sendControl(encodeMuxFrame({ type: FrameType.PING, requestId: 0, fromClient: false, more: false, payload: this.capsPayload }));
  }

  /** Control frames (WINDOW, RESET, PING, PONG) are tiny: sent as soon as the channel has room, best effort. */
  private sendControl(frame: Uint8Array): void {
    if (this.closedError || this.channel.readyState !== 'open') return;
    this.pacer.send(this.channel, frame).catch((err: unknown) => {
      this.log.debug({ error: String(err) }, 'control frame not sent');
    });
  }

  /** Grants the part of {@link ChannelMuxOptions.receiveWindowBytes} over the protocol window, once per exchange. */
  private grantReceiveWindow(ex: Exchange): void {
    const extra = this.receiveWindowBytes - this.windowBytes;
    if (extra <= 0 || ex.reset || ex.inEnded) return;
    this.sendControl(
      encodeMuxFrame({ type: FrameType.WINDOW, requestId: ex.id, fromClient: ex.client, more: false, payload: encodeVarint(extra) }),
    );
  }

  private grant(ex: Exchange, n: number): void {
    ex.ungranted += n;
    if (ex.ungranted < this.grantStepBytes || ex.reset || ex.inEnded) return;
    const credit = ex.ungranted;
    ex.ungranted = 0;
    this.sendControl(
      encodeMuxFrame({ type: FrameType.WINDOW, requestId: ex.id, fromClient: ex.client, more: false, payload: encodeVarint(credit) }),
    );
  }

  private onRemoteReset(ex: Exchange, reason: ResetReason): void {
    const err = remoteResetError(reason);
    this.log.debug({ 'request-id': ex.id, reason: reason.code, message: reason.message }, 'remote reset exchange');
    this.resetExchange(ex, err, false);
  }

  /** Ends an exchange in both directions; tells the remote when `notify`. */
  private resetExchange(ex: Exchange, err: RaftwireError, notify: boolean): void {
    if (ex.reset) return;
    ex.reset = true;
    if (notify && !(ex.inEnded && ex.outEnded)) {
      this.sendControl(
        encodeMuxFrame({
          type: FrameType.RESET,
          requestId: ex.id,
          fromClient: ex.client,
          more: false,
          payload: encodeReset({ code: err.code, message: err.message }),
        }),
      );
    }
    ex.inBody.fail(err);
    ex.reassembler.reset();
    ex.abort.abort(err);
    ex.creditWaiter?.();
    this.release(ex);
  }

  private maybeFinish(ex: Exchange): void {
    if (ex.inEnded && ex.outEnded) this.release(ex);
  }

  private release(ex: Exchange): void {
    (ex.client ? this.clientExchanges : this.serverExchanges).delete(ex.id);
    const done = ex.onDone;
    ex.onDone = undefined;
    done?.();
  }

  /** Fails every exchange (ERR_LINK) and refuses new ones. */
  close(err: RaftwireError): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const ex of [...this.clientExchanges.values(), ...this.serverExchanges.values()]) this.resetExchange(ex, err, false);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Resolves after the event loop's pending I/O and timers have had a turn: `setImmediate` in
 * Node (its check phase runs after the poll phase's callbacks), a MessageChannel task in
 * browsers (`setTimeout(0)` is clamped to 4 ms there once nested).
 */
const nextTurn: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise<void>((resolve) => setImmediate(resolve))
    : (() => {
        const queue: (() => void)[] = [];
        let channel: MessageChannel | undefined;
        return () =>
          new Promise<void>((resolve) => {
            if (channel === undefined) {
              channel = new MessageChannel();
              channel.port1.onmessage = () => queue.shift()?.();
            }
            queue.push(resolve);
            channel.port2.postMessage(0);
          });
      })();

function toLinkError(err: unknown): RaftwireError {
  if (isRaftwireError(err)) return err;
  return new RaftwireError(ErrorCode.LINK, `data channel send failed: ${String(err)}`, { cause: err });
}
