/**
 * The bare msgapp codec in this process, the limit of the one-entry shapes in `pnpm bench http`:
 * the same flood MsgApps (as member.ts sends) encoded with core's MsgAppEncoder into 64 KiB
 * batches (as the stream writer batches them) and decoded with MsgAppDecoder, per pass a fresh
 * encoder and decoder (a fresh stream), messages built beforehand (raft's allocation, not the codec's).
 */
import { AllocMeter } from '../../packages/adapters/test/http/fixtures/alloc-meter.js';
import { ByteWriter, type Message, MsgAppDecoder, MsgAppEncoder, cborMessageCodec } from '../../packages/core/src/index.js';
import { floodMsgApp } from './_msgapp-bytes.js';

const BATCH = 64 * 1024;

function floodMessages(count: number, entryBytes: number, perMsg: number): Message[] {
  const data = new Uint8Array(entryBytes).fill(0x61);
  return Array.from({ length: count }, (_, i) => floodMsgApp(i * perMsg, data, perMsg));
}

/** One pass: encode all of `msgs` in batches and decode each batch; returns wire bytes. */
function pass(msgs: readonly Message[]): number {
  const enc = new MsgAppEncoder({ from: 1n, to: 2n }, cborMessageCodec);
  const dec = new MsgAppDecoder({ from: 1n, to: 2n }, cborMessageCodec);
  let wire = 0;
  let decoded = 0;
  let batch = new ByteWriter(BATCH + 256);
  const flush = (): void => {
    const chunk = batch.finish();
    wire += chunk.length;
    decoded += dec.push(chunk).length;
    batch = new ByteWriter(BATCH + 256);
  };
  for (const m of msgs) {
    enc.encodeTo(m, batch);
    if (batch.length >= BATCH) flush();
  }
  if (batch.length > 0) flush();
  if (decoded !== msgs.length) throw new Error(`codec decoded ${decoded} of ${msgs.length}`);
  return wire;
}

/** Wire bytes per second through encode + decode, best of `rounds` passes over `count` messages. */
export function codecRate(entryBytes: number, perMsg: number, count: number, rounds = 5): number {
  const msgs = floodMessages(count, entryBytes, perMsg);
  pass(msgs); // warm-up
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const wire = pass(msgs);
    best = Math.max(best, wire / ((performance.now() - t0) / 1000));
  }
  return best;
}

/** Heap bytes allocated per message by encode + decode (alloc-meter.ts), after a warm-up pass. */
export function codecAllocPerMessage(entryBytes: number, perMsg: number, count: number): number {
  const msgs = floodMessages(count, entryBytes, perMsg);
  pass(msgs);
  pass(msgs);
  const meter = new AllocMeter();
  meter.start();
  pass(msgs);
  return meter.stop().bytes / count;
}
