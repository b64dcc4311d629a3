/**
 * No 'abort' listener outlives the exchange that added it, over real data channels: many
 * requests sharing one caller signal (whole and streamed bodies, streams released early)
 * leave nothing on it, and nothing at all once the links close. One stack is enough: the
 * listeners are the mux's and the link's, not the WebRTC implementation's.
 */
import { AbortListenerTracker } from '@raftwire/core/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Pair, assertLoopbackOnly, makePair, pattern, readAll, testHandler, waitFor } from './helpers.js';

beforeAll(assertLoopbackOnly);

async function* chunks(n: number): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (let i = 0; i < n; i++) {
    yield pattern(1000, 7, at);
    at += 1000;
  }
}

describe('abort listeners over WebRTC (node-datachannel)', () => {
  const tracker = new AbortListenerTracker();
  let pair: Pair | undefined;
  beforeEach(() => tracker.install());
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
    tracker.uninstall();
  });

  it('many requests and streams on one caller signal leave no listener on it, and none after close', async () => {
    pair = await makePair('node-datachannel', testHandler());
    const url = 'webrtc://2';
    const caller = new AbortController();
    const signal = caller.signal;
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        ...Array.from({ length: 10 }, async () => {
          const res = await pair?.a.request(url, { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(100), signal });
          if (res) await readAll(res.body);
        }),
        (async () => {
          const res = await pair?.a.request(url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: chunks(20), signal });
          expect(res?.headers['x-body-bytes']).toBe('20000');
          if (res) await readAll(res.body);
        })(),
        (async () => {
          const res = await pair?.a.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {}, signal });
          for await (const _ of res?.body ?? []) break; // release the stream early
        })(),
      ]);
    }
    expect(tracker.on(signal)).toBe(0);
    expect(tracker.maxOnLiveSignal()).toBeLessThan(8);
    await pair.close();
    pair = undefined;
    expect(tracker.on(signal)).toBe(0);
    await waitFor(() => tracker.totalOnLiveSignals() === 0, 'every listener gone after close', 5000);
  });
});
