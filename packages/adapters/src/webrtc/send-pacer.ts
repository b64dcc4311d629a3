import { ErrorCode, RaftwireError, onAbort } from '@raftwire/core';
import type { DataChannelPort } from './peer-connection-port.js';

export interface SendPacerOptions {
  /** A send waits while `bufferedAmount + size` would pass this. Default 1 MiB; at most 1 MiB. */
  highWaterMark?: number;
  /** Waiters resume once `bufferedAmount` is at or below this. Default 256 KiB. */
  lowWaterMark?: number;
  /** Poll period while anyone waits, for stacks that never fire `bufferedamountlow`. Default 5 ms. */
  pollMs?: number;
}

export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_LOW_WATER_MARK = 256 * 1024;
export const DEFAULT_POLL_MS = 5;

/**
 * Backpressure for the data channels of one peer connection.
 *
 * A send waits while the channel's `bufferedAmount` plus the frame would pass
 * the high-water mark, and resumes when the channel drains to the low-water
 * mark. Wake-ups come from `bufferedamountlow` on **any** channel of the
 * connection (SCTP's send buffer is shared, so one channel's event can mean
 * room for another) and from a poll that runs only while someone waits:
 * @roamhq/wrtc never fires the event and silently drops data past 16 MiB
 * buffered (feasibility §4), so the poll is what keeps it correct there.
 */
export class SendPacer {
  readonly high: number;
  readonly low: number;
  private readonly pollMs: number;
  private waiters = new Set<() => void>();
  /**
   * Per channel, an upper bound on its `bufferedAmount`: the last value read plus every byte
   * sent since (the buffer only shrinks on its own). While the bound plus a frame stays under
   * the high-water mark the frame goes out without reading the getter at all.
   */
  private readonly bound = new WeakMap<DataChannelPort, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private closedError: RaftwireError | undefined;

  constructor(options: SendPacerOptions = {}) {
    this.high = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.low = options.lowWaterMark ?? DEFAULT_LOW_WATER_MARK;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    if (!(this.high > 0 && this.high <= DEFAULT_HIGH_WATER_MARK)) {
      throw new RangeError(`highWaterMark must be in (0, ${DEFAULT_HIGH_WATER_MARK}], got ${this.high}`);
    }
    if (!(this.low >= 0 && this.low < this.high)) throw new RangeError(`lowWaterMark must be in [0, highWaterMark), got ${this.low}`);
  }

  /** Hooks a channel's low-buffer event to this pacer. */
  attach(channel: DataChannelPort): void {
    channel.bufferedAmountLowThreshold = this.low;
    channel.onBufferedAmountLow = () => this.wake();
  }

  /** True when `size` more bytes fit under the high-water mark now. */
  hasRoom(channel: DataChannelPort, size: number): boolean {
    return channel.bufferedAmount + size <= this.high;
  }

  /**
   * Sends `frame` on `channel` as soon as it fits under the high-water mark.
   * The room check and the send happen in one synchronous step, so
   * concurrent senders can never push `bufferedAmount` past the mark.
   * Rejects with ERR_LINK when the connection closes or the channel is no
   * longer open, ERR_ABORTED on abort (nothing is sent then).
   */
  async send(channel: DataChannelPort, frame: Uint8Array, signal?: AbortSignal): Promise<void> {
    let waited = false;
    for (;;) {
      if (this.closedError) throw this.closedError;
      if (channel.readyState !== 'open') throw new RaftwireError(ErrorCode.LINK, `data channel ${channel.label} is ${channel.readyState}`);
      if (signal?.aborted) throw new RaftwireError(ErrorCode.ABORTED, 'send aborted');
      // One read of bufferedAmount per attempt: in @roamhq/wrtc every getter is a blocking hop to
      // the stack's own thread (a profile of a snapshot showed these reads at ~15 % of the sender's
      // JavaScript thread). Once over the high mark, resume only at the low mark (hysteresis).
      // The bound saves that read on most sends: it is read only when the bound would pass the mark.
      const bound = this.bound.get(channel);
      if (!waited && bound !== undefined && bound + frame.length <= this.high) {
        channel.send(frame);
        this.bound.set(channel, bound + frame.length);
        return;
      }
      const buffered = channel.bufferedAmount;
      if (buffered + frame.length <= this.high && (!waited || buffered <= this.low)) {
        channel.send(frame);
        this.bound.set(channel, buffered + frame.length);
        return;
      }
      this.bound.set(channel, buffered);
      waited = true;
      await this.nextWake(signal);
    }
  }

  private nextWake(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let dispose = (): void => {};
      const done = (): void => {
        this.waiters.delete(done);
        dispose();
        if (this.waiters.size === 0) this.stopPoll();
        resolve();
      };
      this.waiters.add(done);
      dispose = onAbort(signal, done);
      if (this.waiters.has(done) && this.timer === undefined) this.timer = setInterval(() => this.wake(), this.pollMs);
    });
  }

  /** Lets every waiter re-check its channel. */
  wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Fails every current and future wait with `error`. */
  close(error: RaftwireError): void {
    this.closedError = error;
    this.wake();
    this.stopPoll();
  }

  private stopPoll(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
