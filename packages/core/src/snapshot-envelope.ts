import { ByteWriter, varintSize } from './bytes.js';

/**
 * The head of a snapshot request body (`POST /raft/snapshot`): varint length · encoded MsgSnap ·
 * varint body size; the body bytes follow. The receiver knows the exact size before the first
 * body byte, so a short or long body is caught on both ends.
 */
export function encodeSnapshotEnvelope(encodedMessage: Uint8Array, bodySize: number): Uint8Array {
  const out = new ByteWriter(varintSize(encodedMessage.length) + encodedMessage.length + varintSize(bodySize));
  out.varint(encodedMessage.length);
  out.bytes(encodedMessage);
  out.varint(bodySize);
  return out.finish();
}
