import { ErrorCode, RaftwireError } from '@raftwire/core';

/**
 * Joins the fragments of one logical message (a head or a body chunk) back
 * together. The running total is checked against the cap on every fragment,
 * before anything is kept, so a peer cannot make the receiver buffer more
 * than `maxMessageBytes` for one message.
 */
export class Reassembler {
  /** The message so far, copied once into one buffer that grows by doubling (never past the cap). */
  private buf: Uint8Array | undefined;
  private size = 0;
  /** Length of the last multi-frame message, the first guess for the next one's buffer. */
  private lastSize = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes held for an incomplete message. */
  get pendingBytes(): number {
    return this.size;
  }

  /**
   * Adds one fragment. Returns the whole message when `more` is false, else
   * null. Throws ERR_FRAME_TOO_LARGE when the message grows over the cap
   * (the partial message is dropped).
   */
  push(fragment: Uint8Array, more: boolean): Uint8Array | null {
    if (this.size + fragment.length > this.maxMessageBytes) {
      const declared = this.size + fragment.length;
      this.reset();
      throw new RaftwireError(
        ErrorCode.FRAME_TOO_LARGE,
        `reassembled message reached ${declared} bytes, over the cap of ${this.maxMessageBytes}`,
      );
    }
    // Copy: the data-channel buffer a fragment views may be reused.
    if (!more && this.buf === undefined) return fragment.slice();
    // One copy per byte and one allocation per message in the common case (a sender's messages are
    // at most 17 frames: 256 KiB), instead of a copy per fragment and another to join them: on
    // a bulk stream this halves what the receiver allocates and copies.
    const need = this.size + fragment.length;
    if (this.buf === undefined || need > this.buf.length) {
      // First guess: the size of the previous message on this exchange (a stream's messages are
      // alike), else a whole 256 KiB message (17 frames); then doubling.
      const guess = this.buf !== undefined ? this.buf.length * 2 : this.lastSize > 0 ? this.lastSize : fragment.length * 17;
      const cap = Math.min(this.maxMessageBytes, Math.max(need, guess));
      const grown = new Uint8Array(cap);
      if (this.buf !== undefined) grown.set(this.buf.subarray(0, this.size));
      this.buf = grown;
    }
    this.buf.set(fragment, this.size);
    this.size = need;
    if (more) return null;
    this.lastSize = this.size;
    // A view, not another copy, when the spare tail is small (a full 256 KiB message: under one
    // frame in 16); a short message is copied out so it never pins a mostly empty buffer.
    const spare = this.buf.length - this.size;
    const whole = spare === 0 ? this.buf : spare <= this.size / 8 ? this.buf.subarray(0, this.size) : this.buf.slice(0, this.size);
    this.reset();
    return whole;
  }

  reset(): void {
    this.buf = undefined;
    this.size = 0;
  }
}
