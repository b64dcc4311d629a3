import { ErrorCode, RaftwireError } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import type { DataChannelPort } from '../../src/webrtc/peer-connection-port.js';
import { SendPacer } from '../../src/webrtc/send-pacer.js';

/** A channel that drains `rate` bytes every millisecond and, like @roamhq/wrtc, never fires bufferedamountlow. */
function silentDrainingChannel(rate: number): DataChannelPort & { sent: number; maxBuffered: number; stop(): void } {
  let buffered = 0;
  const ch = {
    label: 'snapshot',
    readyState: 'open',
    bufferedAmountLowThreshold: 0,
    onOpen: null,
    onClose: null,
    onBufferedAmountLow: null,
    onMessage: null,
    sent: 0,
    maxBuffered: 0,
    get bufferedAmount() {
      return buffered;
    },
    send(data: Uint8Array) {
      buffered += data.length;
      ch.sent += data.length;
      ch.maxBuffered = Math.max(ch.maxBuffered, buffered);
    },
    close() {
      ch.readyState = 'closed';
    },
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    buffered = Math.max(0, buffered - rate);
  }, 1);
  return ch;
}

describe('SendPacer', () => {
  it('keeps bufferedAmount under the high mark with many concurrent senders and no low events (poll fallback)', async () => {
    const pacer = new SendPacer({ highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024, pollMs: 2 });
    const ch = silentDrainingChannel(64 * 1024);
    pacer.attach(ch);
    const frame = new Uint8Array(16 * 1024);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 32; i++) await pacer.send(ch, frame);
      }),
    );
    ch.stop();
    expect(ch.sent).toBe(8 * 32 * frame.length);
    expect(ch.maxBuffered).toBeLessThanOrEqual(64 * 1024);
  });

  it('reads bufferedAmount only when what it sent since the last read could pass the high mark', async () => {
    const pacer = new SendPacer({ highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024, pollMs: 2 });
    const ch = silentDrainingChannel(0);
    let reads = 0;
    const counted = Object.create(ch, {
      bufferedAmount: {
        get() {
          reads++;
          return ch.bufferedAmount;
        },
      },
    }) as DataChannelPort;
    pacer.attach(counted);
    const frame = new Uint8Array(1024);
    for (let i = 0; i < 64; i++) await pacer.send(counted, frame);
    ch.stop();
    // 64 × 1 KiB fit under the 64 KiB mark with nothing drained: one read for the first send only.
    expect(ch.sent).toBe(64 * 1024);
    expect(reads).toBe(1);
    expect(ch.maxBuffered).toBeLessThanOrEqual(64 * 1024);
  });

  it('fails waiting sends when closed or aborted, and sends nothing then', async () => {
    const pacer = new SendPacer({ highWaterMark: 1024, lowWaterMark: 0 });
    const ch = silentDrainingChannel(0);
    pacer.attach(ch);
    await pacer.send(ch, new Uint8Array(1024));
    const ac = new AbortController();
    const aborted = pacer.send(ch, new Uint8Array(1), ac.signal);
    const closed = pacer.send(ch, new Uint8Array(1));
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: ErrorCode.ABORTED });
    pacer.close(new RaftwireError(ErrorCode.LINK, 'gone'));
    await expect(closed).rejects.toMatchObject({ code: ErrorCode.LINK });
    ch.stop();
    expect(ch.sent).toBe(1024);
  });

  it('refuses a high mark over 1 MiB', () => {
    expect(() => new SendPacer({ highWaterMark: 2 * 1024 * 1024 })).toThrow(RangeError);
  });
});
