import { ErrorCode, ErrorText, RaftwireError, silentLogger } from '@raftwire/core';
import type { ProtocolHandler } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import {
  BULK_GRANT_STEP_BYTES,
  BULK_SEND_WINDOW_BYTES,
  BULK_WINDOW_BYTES,
  ChannelMux,
  type ChannelMuxOptions,
  MAX_SERVED_EXCHANGES,
  STREAM_RECEIVE_WINDOW_BYTES,
  WINDOW_BYTES,
} from '../../src/webrtc/channel-mux.js';
import { flowForChannel } from '../../src/webrtc/channels.js';
import { decodeReset, encodeRequestHead } from '../../src/webrtc/exchange-head.js';
import {
  type Capabilities,
  FrameType,
  MAX_NEGOTIATED_FRAME_BYTES,
  MAX_WIRE_FRAME_BYTES,
  type MuxFrame,
  decodeCapabilities,
  decodeMuxFrame,
  encodeCapabilities,
  encodeMuxFrame,
} from '../../src/webrtc/mux-frame.js';
import type { DataChannelPort } from '../../src/webrtc/peer-connection-port.js';
import { SendPacer } from '../../src/webrtc/send-pacer.js';
import { readTwice } from '../read-twice.js';
import { pattern, readAll, text, untext, waitFor } from './helpers.js';

/** An in-memory data channel: what is sent is recorded and (if linked) delivered to the peer asynchronously. */
function memoryChannel(): DataChannelPort & { sent: Uint8Array[]; deliver: ((b: Uint8Array) => void) | null } {
  const ch = {
    label: 'pipeline',
    readyState: 'open',
    bufferedAmount: 0,
    bufferedAmountLowThreshold: 0,
    onOpen: null,
    onClose: null,
    onBufferedAmountLow: null,
    onMessage: null,
    sent: [] as Uint8Array[],
    deliver: null as ((b: Uint8Array) => void) | null,
    send(data: Uint8Array) {
      const copy = data.slice();
      ch.sent.push(copy);
      const d = ch.deliver;
      if (d) setTimeout(() => d(copy), 0);
    },
    close() {
      ch.readyState = 'closed';
    },
  };
  return ch;
}

function mux(channel: DataChannelPort, handler?: ProtocolHandler, protocolErrors: RaftwireError[] = [], windowBytes?: number): ChannelMux {
  return new ChannelMux({
    channel,
    ...(windowBytes === undefined ? {} : { windowBytes }),
    pacer: new SendPacer(),
    handler: () => handler,
    remoteAddress: 'webrtc://9',
    logger: silentLogger,
    onProtocolError: (e) => protocolErrors.push(e),
  });
}

/** Like {@link mux}, with any further options (flow control, frame size, capabilities). */
function muxWith(channel: DataChannelPort, handler: ProtocolHandler | undefined, extra: Partial<ChannelMuxOptions>): ChannelMux {
  return new ChannelMux({
    channel,
    pacer: new SendPacer(),
    handler: () => handler,
    remoteAddress: 'webrtc://9',
    logger: silentLogger,
    onProtocolError: () => {},
    ...extra,
  });
}

function linkedPair(
  handler: ProtocolHandler,
  windowBytes?: number,
): {
  client: ChannelMux;
  server: ChannelMux;
  c: ReturnType<typeof memoryChannel>;
  s: ReturnType<typeof memoryChannel>;
} {
  const c = memoryChannel();
  const s = memoryChannel();
  const client = mux(c, undefined, [], windowBytes);
  const server = mux(s, handler, [], windowBytes);
  c.deliver = (b) => server.receive(b);
  s.deliver = (b) => client.receive(b);
  return { client, server, c, s };
}

const frames = (sent: Uint8Array[]): MuxFrame[] => sent.map((b) => decodeMuxFrame(b));

describe('ChannelMux (in memory)', () => {
  it.each([
    { window: WINDOW_BYTES, message: 256 * 1024 },
    { window: BULK_WINDOW_BYTES, message: BULK_WINDOW_BYTES / 4 },
  ])('bounds what a slow reader buffers: the sender stops at the flow-control window ($window)', async ({ window, message }) => {
    let reader: AsyncIterator<Uint8Array> | undefined;
    const handler: ProtocolHandler = async (req) => {
      reader = req.body[Symbol.asyncIterator]();
      await reader.next(); // read one chunk, then stall
      return new Promise(() => {});
    };
    const { client, c } = linkedPair(handler, window === WINDOW_BYTES ? undefined : window);
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 32; i++) yield pattern(256 * 1024, i);
    }
    void client.request({ method: 'POST', path: '/raft/snapshot', headers: {}, body: body() });
    await waitFor(() => reader !== undefined, 'handler');
    await new Promise((r) => setTimeout(r, 200));
    const dataBytes = frames(c.sent)
      .filter((f) => f.type === FrameType.DATA)
      .reduce((n, f) => n + f.payload.length, 0);
    // The reader took one message off the queue (credit for it may or may not have come back yet).
    expect(dataBytes).toBeLessThanOrEqual(window + message);
    expect(dataBytes).toBeGreaterThanOrEqual(window);
    // Reading on lets the rest through, in messages of at most a quarter of the window.
    let n = 1;
    let bytes = message;
    for (;;) {
      const r = await (reader as AsyncIterator<Uint8Array>).next();
      if (r.done) break;
      expect(r.value.length).toBeLessThanOrEqual(message);
      bytes += r.value.length;
      n++;
    }
    expect(bytes).toBe(32 * 256 * 1024);
    expect(n).toBe((32 * 256 * 1024) / message);
  });

  it.each([
    { receiver: 'a receiver granting in small steps', grantStepBytes: BULK_GRANT_STEP_BYTES },
    { receiver: 'an earlier receiver (grants per quarter window)', grantStepBytes: undefined },
  ])(
    'the bulk channel keeps at most its send window in flight, below the protocol window, and completes with $receiver',
    async ({ grantStepBytes }) => {
      let reader: AsyncIterator<Uint8Array> | undefined;
      const handler: ProtocolHandler = async (req) => {
        reader = req.body[Symbol.asyncIterator]();
        await reader.next(); // read one chunk, then stall
        return new Promise(() => {});
      };
      const c = memoryChannel();
      const s = memoryChannel();
      const flow = flowForChannel('snapshot');
      expect(flow).toEqual({
        windowBytes: BULK_WINDOW_BYTES,
        sendWindowBytes: BULK_SEND_WINDOW_BYTES,
        grantStepBytes: BULK_GRANT_STEP_BYTES,
        yieldPerMessage: true,
      });
      expect(BULK_SEND_WINDOW_BYTES).toBeLessThan(BULK_WINDOW_BYTES);
      const client = muxWith(c, undefined, flow);
      const server = muxWith(s, handler, { windowBytes: BULK_WINDOW_BYTES, ...(grantStepBytes === undefined ? {} : { grantStepBytes }) });
      c.deliver = (b) => server.receive(b);
      s.deliver = (b) => client.receive(b);
      const total = 8 * 1024 * 1024;
      async function* body(): AsyncGenerator<Uint8Array> {
        for (let at = 0; at < total; at += 256 * 1024) yield pattern(256 * 1024, at);
      }
      void client.request({ method: 'POST', path: '/raft/snapshot', headers: {}, body: body() });
      await waitFor(() => reader !== undefined, 'handler');
      await new Promise((r) => setTimeout(r, 200));
      const dataBytes = () =>
        frames(c.sent)
          .filter((f) => f.type === FrameType.DATA)
          .reduce((n, f) => n + f.payload.length, 0);
      const message = BULK_SEND_WINDOW_BYTES / 2;
      // The reader took one message: credit for it may have come back, nothing more.
      expect(dataBytes()).toBeLessThanOrEqual(BULK_SEND_WINDOW_BYTES + message);
      expect(dataBytes()).toBeGreaterThanOrEqual(BULK_SEND_WINDOW_BYTES);
      let bytes = message;
      for (;;) {
        const r = await (reader as AsyncIterator<Uint8Array>).next();
        if (r.done) break;
        expect(r.value.length).toBeLessThanOrEqual(message);
        bytes += r.value.length;
      }
      expect(bytes).toBe(total);
      const grants = frames(s.sent).filter((f) => f.type === FrameType.WINDOW).length;
      // Small steps: a grant per message read; an earlier receiver: one per 64 KiB, the same here.
      expect(grants).toBeGreaterThanOrEqual(total / message - 2);
    },
  );

  it.each([true, false])('the bulk channel lets message-channel frames of the same turn go first (yield %s)', async (yieldPerMessage) => {
    /** Every frame either channel sends, in order: [channel, frame type]. */
    const log: [string, number][] = [];
    const logged = (label: string) => {
      const ch = memoryChannel();
      const send = ch.send.bind(ch);
      ch.send = (data: Uint8Array) => {
        log.push([label, (data[0] ?? 0) & 0x0f]);
        send(data);
      };
      return ch;
    };
    const serve: ProtocolHandler = async (req) => {
      await readAll(req.body);
      return { status: 204, headers: {} };
    };
    const pairOn = (label: string, extra: Partial<ChannelMuxOptions>) => {
      const c = logged(label);
      const s = memoryChannel();
      const client = muxWith(c, undefined, extra);
      const server = muxWith(s, serve, { windowBytes: extra.windowBytes ?? WINDOW_BYTES });
      c.deliver = (b) => server.receive(b);
      s.deliver = (b) => client.receive(b);
      return client;
    };
    const bulk = pairOn('snapshot', { ...flowForChannel('snapshot'), yieldPerMessage });
    const message = pairOn('message', flowForChannel('message'));
    // Both in one turn: a snapshot, then a message-stream request with a few body chunks.
    const snap = bulk.request({ method: 'POST', path: '/raft/snapshot', headers: {}, body: pattern(1024 * 1024) });
    async function* frames3(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 3; i++) yield pattern(100, i);
    }
    const msg = message.request({ method: 'POST', path: '/raft/stream/message/1', headers: {}, body: frames3() });
    await Promise.all([snap, msg]);
    const firstBulkData = log.findIndex(([l, t]) => l === 'snapshot' && t === FrameType.DATA);
    const lastMessage = log.findLastIndex(([l]) => l === 'message');
    if (yieldPerMessage) expect(lastMessage).toBeLessThan(firstBulkData);
    else expect(lastMessage).toBeGreaterThan(firstBulkData); // without the yield, snapshot data goes out in the same microtasks
  });

  it.each(['request', 'response'] as const)(
    'a receiver with a larger receive window (msgapp) lets the %s body keep that much unread, granted when the exchange starts',
    async (direction) => {
      const flow = flowForChannel('msgapp', STREAM_RECEIVE_WINDOW_BYTES);
      expect(flowForChannel('msgapp').receiveWindowBytes).toBe(STREAM_RECEIVE_WINDOW_BYTES); // the default in Node
      expect(STREAM_RECEIVE_WINDOW_BYTES).toBeGreaterThan(WINDOW_BYTES);
      const message = 256 * 1024;
      const total = STREAM_RECEIVE_WINDOW_BYTES * 2;
      async function* body(): AsyncGenerator<Uint8Array> {
        for (let at = 0; at < total; at += message) yield pattern(message, at);
      }
      let reader: AsyncIterator<Uint8Array> | undefined;
      const c = memoryChannel();
      const s = memoryChannel();
      // The sender is an earlier version's (protocol window, no receive window of its own): it
      // only adds the receiver's grant to its credit. The receiver runs the msgapp channel's flow.
      const { receiveWindowBytes: _unused, ...senderFlow } = flow;
      const handler: ProtocolHandler =
        direction === 'request'
          ? async (req) => {
              reader = req.body[Symbol.asyncIterator]();
              await reader.next(); // read one chunk, then stall
              return new Promise(() => {});
            }
          : async () => ({ status: 200, headers: {}, body: body() });
      const client = muxWith(c, undefined, direction === 'request' ? senderFlow : flow);
      const server = muxWith(s, handler, direction === 'request' ? flow : senderFlow);
      c.deliver = (b) => server.receive(b);
      s.deliver = (b) => client.receive(b);
      const sent = direction === 'request' ? c.sent : s.sent;
      if (direction === 'request') {
        void client.request({ method: 'POST', path: '/raft/stream/msgappv2/1', headers: {}, body: body() });
      } else {
        const res = await client.request({ method: 'GET', path: '/raft/stream/msgappv2/1', headers: {} });
        reader = res.body[Symbol.asyncIterator]();
        await reader.next();
      }
      await waitFor(() => reader !== undefined, 'reader');
      await new Promise((r) => setTimeout(r, 200));
      const dataBytes = frames(sent)
        .filter((f) => f.type === FrameType.DATA)
        .reduce((n, f) => n + f.payload.length, 0);
      // The reader took one message (its credit may or may not have come back yet), nothing more.
      expect(dataBytes).toBeGreaterThanOrEqual(STREAM_RECEIVE_WINDOW_BYTES);
      expect(dataBytes).toBeLessThanOrEqual(STREAM_RECEIVE_WINDOW_BYTES + message);
      // Reading on brings every byte, in order.
      let at = message;
      for (;;) {
        const r = await (reader as AsyncIterator<Uint8Array>).next();
        if (r.done) break;
        at += r.value.length;
        if (at >= total) break;
      }
      expect(at).toBe(total);
    },
  );

  it('a receiver without a larger receive window grants nothing up front (an earlier version, and the other channels)', async () => {
    for (const label of ['message', 'pipeline'] as const) expect(flowForChannel(label).receiveWindowBytes).toBe(WINDOW_BYTES);
    const c = memoryChannel();
    const s = memoryChannel();
    const client = muxWith(c, undefined, flowForChannel('message'));
    const server = muxWith(s, async () => ({ status: 204, headers: {} }), flowForChannel('message'));
    c.deliver = (b) => server.receive(b);
    s.deliver = (b) => client.receive(b);
    const res = await client.request({ method: 'POST', path: '/raft/stream/message/1', headers: {}, body: pattern(1000) });
    expect(res.status).toBe(204);
    expect(frames([...c.sent, ...s.sent]).filter((f) => f.type === FrameType.WINDOW)).toEqual([]);
  });

  it('hands each chunk of a releasable body back once all its bytes are in frames the channel took', async () => {
    const c = memoryChannel();
    const s = memoryChannel();
    const client = muxWith(c, undefined, {});
    const server = muxWith(s, async (req) => ({ status: 200, headers: {}, body: await readAll(req.body) }), {});
    c.deliver = (b) => server.receive(b);
    s.deliver = (b) => client.receive(b);
    const chunks = [pattern(100_000, 1), pattern(50, 2), pattern(300_000, 3)];
    const released: { chunk: Uint8Array; dataBytesSent: number }[] = [];
    let accepted = false;
    const sentDataBytes = () =>
      frames(c.sent)
        .filter((f) => f.type === FrameType.DATA)
        .reduce((n, f) => n + f.payload.length, 0);
    const body = {
      acceptReleases: () => {
        accepted = true;
      },
      releaseChunk: (chunk: Uint8Array) => {
        released.push({ chunk, dataBytesSent: sentDataBytes() });
        chunk.fill(0); // the producer reuses it at once: what was sent must not change
      },
      async *[Symbol.asyncIterator]() {
        for (const ch of chunks) yield ch.slice();
      },
    };
    const expected = Buffer.concat(chunks);
    const res = await client.request({ method: 'POST', path: '/raft/stream/msgappv2/1', headers: {}, body });
    expect(Buffer.from(await readAll(res.body)).equals(expected)).toBe(true);
    expect(accepted).toBe(true);
    expect(released.map((r) => r.chunk.length)).toEqual(chunks.map((ch) => ch.length));
    let total = 0;
    for (const [i, r] of released.entries()) {
      total += chunks[i]?.length ?? 0;
      expect(r.dataBytesSent).toBeGreaterThanOrEqual(total);
    }
  });

  it('refuses a receive window under the protocol window', () => {
    expect(() => muxWith(memoryChannel(), undefined, { windowBytes: WINDOW_BYTES, receiveWindowBytes: WINDOW_BYTES / 2 })).toThrow(
      RangeError,
    );
  });

  it('refuses a send window outside [window / 4, window]', () => {
    expect(() => muxWith(memoryChannel(), undefined, { windowBytes: BULK_WINDOW_BYTES, sendWindowBytes: BULK_WINDOW_BYTES / 8 })).toThrow(
      RangeError,
    );
    expect(() => muxWith(memoryChannel(), undefined, { windowBytes: BULK_WINDOW_BYTES, sendWindowBytes: BULK_WINDOW_BYTES * 2 })).toThrow(
      RangeError,
    );
  });

  it('sends data-channel messages of the negotiated size, read per message', async () => {
    let frameBytes = MAX_WIRE_FRAME_BYTES;
    const got: Uint8Array[] = [];
    const c = memoryChannel();
    const s = memoryChannel();
    const client = muxWith(c, undefined, { frameBytes: () => frameBytes });
    const server = muxWith(
      s,
      async (req) => {
        for await (const chunk of req.body) got.push(chunk);
        return { status: 204, headers: {} };
      },
      {},
    );
    c.deliver = (b) => server.receive(b);
    s.deliver = (b) => client.receive(b);
    const first = pattern(200_000, 1);
    const res1 = await client.request({ method: 'POST', path: '/raft', headers: {}, body: first });
    expect(res1.status).toBe(204);
    const sizes1 = c.sent.map((b) => b.length);
    expect(Math.max(...sizes1)).toBeLessThanOrEqual(MAX_WIRE_FRAME_BYTES);
    expect(Math.max(...sizes1)).toBeGreaterThan(MAX_WIRE_FRAME_BYTES - 8);
    c.sent.length = 0;
    frameBytes = MAX_NEGOTIATED_FRAME_BYTES;
    const second = pattern(200_000, 2);
    const res2 = await client.request({ method: 'POST', path: '/raft', headers: {}, body: second });
    expect(res2.status).toBe(204);
    expect(Math.max(...c.sent.map((b) => b.length))).toBeGreaterThan(MAX_NEGOTIATED_FRAME_BYTES - 8);
    expect(c.sent.every((b) => b.length <= MAX_NEGOTIATED_FRAME_BYTES)).toBe(true);
    expect(got.map((b) => Buffer.from(b).toString('hex'))).toEqual([first, second].map((b) => Buffer.from(b).toString('hex')));
  });

  it.each([
    { frameBytes: MAX_NEGOTIATED_FRAME_BYTES, perMessage: 1 },
    { frameBytes: 64 * 1024, perMessage: 2 }, // what the previous version announces: a full frame and a 6-byte tail
  ])('a 64 KiB snapshot message is one data-channel message at the negotiated size ($frameBytes)', async ({ frameBytes, perMessage }) => {
    const c = memoryChannel();
    const s = memoryChannel();
    const client = muxWith(c, undefined, { ...flowForChannel('snapshot'), frameBytes: () => frameBytes });
    const server = muxWith(s, async (req) => ({ status: 200, headers: {}, body: await readAll(req.body) }), flowForChannel('snapshot'));
    c.deliver = (b) => server.receive(b);
    s.deliver = (b) => client.receive(b);
    const body = pattern(1024 * 1024, 3);
    const res = await client.request({ method: 'POST', path: '/raft/snapshot', headers: {}, body });
    expect(Buffer.from(await readAll(res.body)).equals(Buffer.from(body))).toBe(true);
    const data = frames(c.sent).filter((f) => f.type === FrameType.DATA);
    expect(data.length).toBe((body.length / (64 * 1024)) * perMessage);
  });

  it('announces capabilities in PING/PONG, and an earlier peer (empty PONG) announces none', async () => {
    const caps: Capabilities = { maxFrameBytes: MAX_NEGOTIATED_FRAME_BYTES };
    const c = memoryChannel();
    const s = memoryChannel();
    const seenByClient: Capabilities[] = [];
    const seenByServer: Capabilities[] = [];
    const client = muxWith(c, undefined, { localCapabilities: caps, onCapabilities: (x) => seenByClient.push(x) });
    const server = muxWith(s, undefined, { localCapabilities: caps, onCapabilities: (x) => seenByServer.push(x) });
    c.deliver = (b) => server.receive(b);
    s.deliver = (b) => client.receive(b);
    client.hello();
    await waitFor(() => seenByClient.length === 1, 'the PONG');
    expect(seenByServer).toEqual([caps]); // the hello's PING
    expect(seenByClient).toEqual([caps]); // the PONG answering it
    const pong = frames(s.sent).find((f) => f.type === FrameType.PONG);
    expect(pong && decodeCapabilities(pong.payload)).toEqual(caps);

    // An earlier version: answers any PING with an empty PONG and never says anything itself.
    const c2 = memoryChannel();
    const s2 = memoryChannel();
    const seen: Capabilities[] = [];
    const newer = muxWith(c2, undefined, { localCapabilities: caps, onCapabilities: (x) => seen.push(x) });
    const older = muxWith(s2, undefined, {});
    c2.deliver = (b) => older.receive(b);
    s2.deliver = (b) => newer.receive(b);
    newer.hello();
    await waitFor(() => s2.sent.length === 1, 'the PONG');
    await new Promise((r) => setTimeout(r, 10));
    expect(frames(s2.sent).map((f) => [f.type, f.payload.length])).toEqual([[FrameType.PONG, 0]]);
    expect(seen).toEqual([]);
    // A keepalive PING is still empty, and capabilities this version does not know are ignored.
    newer.ping();
    expect(frames(c2.sent).at(-1)?.payload.length).toBe(0);
    newer.receive(
      encodeMuxFrame({ type: FrameType.PING, requestId: 0, fromClient: false, more: false, payload: new Uint8Array([9, 1, 2]) }),
    );
    expect(seen).toEqual([]);
    expect(decodeCapabilities(encodeCapabilities(caps))).toEqual(caps);
  });

  it('answers 500 when the handler throws, and one message each way for a body-less GET', async () => {
    const { client, c, s } = linkedPair(async (req) => {
      if (req.path === '/boom') throw new Error('handler bug');
      return { status: 204, headers: { 'x-a': '1' } };
    });
    const ok = await client.request({ method: 'GET', path: '/raft/probing', headers: {} });
    expect(ok.status).toBe(204);
    expect(await readAll(ok.body)).toEqual(new Uint8Array(0));
    expect(c.sent).toHaveLength(1); // HEAD|FIN
    expect(s.sent).toHaveLength(1);
    const boom = await client.request({ method: 'GET', path: '/boom', headers: {} });
    expect(boom.status).toBe(500);
    expect(untext(await readAll(boom.body))).toBe(`${ErrorText.internalError}\n`);
    expect(client.activeExchanges).toBe(0);
  });

  it('refuses a second read of a request body with ERR_BODY_CONSUMED', async () => {
    const { client } = linkedPair(readTwice);
    const res = await client.request({ method: 'POST', path: '/raft/snapshot', headers: {}, body: pattern(3000) });
    expect(res.headers['x-bytes']).toBe('3000');
    expect(res.headers['x-second-read']).toBe(ErrorCode.BODY_CONSUMED);
  });

  it('resets a malformed head with ERR_DECODE without calling the handler', async () => {
    let called = 0;
    const s = memoryChannel();
    const server = mux(s, async () => {
      called++;
      return { status: 204, headers: {} };
    });
    const badHeads = [text('{'), text('{"m":"GET","p":"no-slash","h":{}}'), text('{"m":"GET","p":"/x","h":{"a":1}}')];
    badHeads.forEach((payload, i) => {
      server.receive(encodeMuxFrame({ type: FrameType.HEAD, requestId: i + 1, fromClient: true, more: false, fin: true, payload }));
    });
    await new Promise((r) => setTimeout(r, 20));
    const resets = frames(s.sent).filter((f) => f.type === FrameType.RESET);
    expect(resets.map((f) => f.requestId)).toEqual([1, 2, 3]);
    expect(resets.map((f) => decodeReset(f.payload).code)).toEqual([ErrorCode.DECODE, ErrorCode.DECODE, ErrorCode.DECODE]);
    expect(called).toBe(0);
    expect(server.activeExchanges).toBe(0);
  });

  it('resets a sender that ignores flow control with ERR_BUFFER_FULL', async () => {
    let bodyError: unknown;
    const s = memoryChannel();
    const server = mux(s, async (req) => {
      try {
        await new Promise((r) => setTimeout(r, 50)); // not reading yet
        await readAll(req.body);
      } catch (err) {
        bodyError = err;
      }
      return { status: 204, headers: {} };
    });
    server.receive(
      encodeMuxFrame({
        type: FrameType.HEAD,
        requestId: 1,
        fromClient: true,
        more: false,
        payload: encodeRequestHead({ method: 'POST', path: '/raft', headers: {} }),
      }),
    );
    const chunk = new Uint8Array(16 * 1024 - 8);
    for (let sent = 0; sent <= WINDOW_BYTES + chunk.length; sent += chunk.length) {
      server.receive(encodeMuxFrame({ type: FrameType.DATA, requestId: 1, fromClient: true, more: false, payload: chunk }));
    }
    await waitFor(() => bodyError !== undefined, 'the body to fail');
    expect((bodyError as RaftwireError).code).toBe(ErrorCode.BUFFER_FULL);
    const reset = frames(s.sent).find((f) => f.type === FrameType.RESET);
    expect(reset && decodeReset(reset.payload).code).toBe(ErrorCode.BUFFER_FULL);
  });

  it(`refuses more than ${MAX_SERVED_EXCHANGES} concurrent requests from one peer`, async () => {
    const s = memoryChannel();
    const server = mux(s, () => new Promise(() => {}));
    const head = encodeRequestHead({ method: 'GET', path: '/raft/stream/message/9', headers: {} });
    for (let id = 1; id <= MAX_SERVED_EXCHANGES + 1; id++)
      server.receive(encodeMuxFrame({ type: FrameType.HEAD, requestId: id, fromClient: true, more: false, fin: true, payload: head }));
    expect(server.activeExchanges).toBe(MAX_SERVED_EXCHANGES);
    await new Promise((r) => setTimeout(r, 10));
    const resets = frames(s.sent).filter((f) => f.type === FrameType.RESET);
    expect(resets.map((f) => f.requestId)).toEqual([MAX_SERVED_EXCHANGES + 1]);
    server.close(new RaftwireError(ErrorCode.LINK, 'done'));
    expect(server.activeExchanges).toBe(0);
  });

  it('treats an undecodable frame as a protocol error for the whole connection', () => {
    const errors: RaftwireError[] = [];
    const server = mux(memoryChannel(), undefined, errors);
    server.receive(new Uint8Array([0x0f, 1]));
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.DECODE]);
  });
});
