import { ByteWriter, Slab, varintSize } from './bytes.js';
import { decodeError, isRaftwireError } from './errors.js';
import { FrameDecoder } from './framing.js';
import type { Message } from './message.js';
import { type MessageCodec, cborMessageCodec } from './message-codec.js';

/** Message stream: each message a length-prefixed frame of the message codec. */
export class MessageStreamEncoder {
  private readonly slab = new Slab();

  constructor(private readonly codec: MessageCodec = cborMessageCodec) {}

  encode(m: Message): Uint8Array {
    const payload = this.codec.encode(m);
    const out = new ByteWriter(varintSize(payload.length) + payload.length, this.slab);
    out.varint(payload.length);
    out.bytes(payload);
    return out.finish();
  }

  /** Appends the same frame as {@link encode} to `out` (a stream writer's batch); writes nothing if it throws. */
  encodeTo(m: Message, out: ByteWriter): void {
    const payload = this.codec.encode(m);
    out.varint(payload.length);
    out.bytes(payload);
  }
}

export class MessageStreamDecoder {
  private readonly frames: FrameDecoder;
  private failed: unknown = null;

  constructor(
    private readonly codec: MessageCodec = cborMessageCodec,
    options: { maxFrameBytes?: number } = {},
  ) {
    this.frames = new FrameDecoder(options);
  }

  get idle(): boolean {
    return this.frames.idle;
  }

  /** Throws RaftwireError only; after an error the decoder stays failed. */
  push(chunk: Uint8Array): Message[] {
    if (this.failed !== null) throw this.failed;
    try {
      return this.frames.push(chunk).map((f) => this.codec.decode(f));
    } catch (err) {
      this.failed = isRaftwireError(err) ? err : decodeError(String(err), err);
      throw this.failed;
    }
  }

  /** Like {@link push}, handing each message to `sink`; what `sink` throws is rethrown and leaves the decoder failed. */
  pushTo(chunk: Uint8Array, sink: (m: Message) => void): void {
    for (const m of this.push(chunk)) {
      try {
        sink(m);
      } catch (err) {
        this.failed = decodeError('message stream abandoned: a delivery threw', err);
        throw err;
      }
    }
  }

  end(): void {
    if (this.failed !== null) throw this.failed;
    this.frames.end();
  }
}
