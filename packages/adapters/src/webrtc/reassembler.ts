import { ErrorCode, RaftwireError, concatBytes } from '@raftwire/core';

/**
 * Joins the fragments of one logical message (a head or a body chunk) back
 * together. The running total is checked against the cap on every fragment,
 * before anything is kept, so a peer cannot make the receiver buffer more
 * than `maxMessageBytes` for one message.
 */
export class Reassembler {
  private parts: Uint8Array[] = [];
  private size = 0;

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
    if (!more && this.parts.length === 0) return fragment.slice();
    // Copy: the data-channel buffer a fragment views may be reused.
    this.parts.push(fragment.slice());
    this.size += fragment.length;
    if (more) return null;
    const whole = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : concatBytes(this.parts);
    this.reset();
    return whole;
  }

  reset(): void {
    this.parts = [];
    this.size = 0;
  }
}
