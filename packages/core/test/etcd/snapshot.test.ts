import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  EtcdSnapshotDecoder,
  type Message,
  MessageType,
  RaftwireError,
  createMessage,
  createSnapshot,
  encodeEtcdFrame,
  encodeEtcdSnapshotEnvelope,
  etcdMessageCodec,
  etcdSnapshotBody,
  messagesEqual,
  readEtcdSnapshot,
} from './src.js';
import { concat, errorCode, expectNoHeapGrowth, splitAt } from '../helpers.js';
import { type LiveAddedMember, fixtureJson, hex, hexId, toHex } from './fixtures.js';

const live = fixtureJson<LiveAddedMember>('live-added-member.json');

const snap = (data: number[] = [1, 2, 3]): Message =>
  createMessage({
    type: MessageType.MsgSnap,
    from: 1n,
    to: 2n,
    term: 4,
    snapshot: createSnapshot({
      data: Uint8Array.from(data),
      metadata: {
        index: 100,
        term: 4,
        confState: { voters: [1n, 2n, 3n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    }),
  });

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return concat(parts);
}

async function rejection(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof RaftwireError)) throw err;
    return err.code;
  }
  return undefined;
}

describe('etcd snapshot body (u64 BE length + MsgSnap, then the database to the end)', () => {
  it('reads the envelope an etcd leader sent and writes it back byte for byte', () => {
    const envelope = hex(live.snapshot.envelope);
    const dec = new EtcdSnapshotDecoder();
    expect(dec.push(envelope).length).toBe(0);
    dec.end();
    const m = dec.message as Message;
    expect(m.type).toBe(MessageType.MsgSnap);
    expect(m.to).toBe(hexId(live.addedMemberId));
    expect(m.snapshot?.metadata.index).toBe(live.snapshot.index);
    expect(m.snapshot?.metadata.term).toBe(live.snapshot.term);
    expect(m.snapshot?.metadata.confState.voters).toEqual(live.snapshot.voters.map(hexId));
    expect(m.snapshot?.data.length).toBe(live.snapshot.v2DataBytes);
    expect(new TextDecoder().decode(m.snapshot?.data.subarray(0, 9))).toBe('{"Root":{');
    expect(toHex(encodeEtcdSnapshotEnvelope(m))).toBe(live.snapshot.envelope);
  });

  it('hands out the database bytes after the envelope, fed one byte at a time', () => {
    const db = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const wire = concat([encodeEtcdSnapshotEnvelope(snap()), db]);
    const dec = new EtcdSnapshotDecoder();
    const body: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) body.push(dec.push(wire.subarray(i, i + 1)));
    dec.end();
    expect(messagesEqual(dec.message as Message, snap())).toBe(true);
    expect(toHex(concat(body))).toBe(toHex(db));
    expect(dec.bodyBytes).toBe(300);
  });

  it('streams the request body: the envelope, then the database chunks untouched', async () => {
    const parts = [Uint8Array.of(9, 9), Uint8Array.of(8), new Uint8Array(0), Uint8Array.of(7, 7, 7)];
    const out: Uint8Array[] = [];
    for await (const c of etcdSnapshotBody(snap(), chunks(parts), { size: 6 })) out.push(c);
    expect(toHex(out[0] as Uint8Array)).toBe(toHex(encodeEtcdSnapshotEnvelope(snap())));
    expect(out.slice(1)).toEqual(parts);
    // a synchronous iterable of chunks does as well
    expect(toHex(await collect(etcdSnapshotBody(snap(), [Uint8Array.of(5)])))).toBe(
      toHex(concat([encodeEtcdSnapshotEnvelope(snap()), Uint8Array.of(5)])),
    );
  });

  it('checks a declared database size both ways and refuses anything but a MsgSnap', async () => {
    expect(await rejection(collect(etcdSnapshotBody(snap(), chunks([Uint8Array.of(1, 2)]), { size: 3 })))).toBe(ErrorCode.SNAPSHOT_SIZE);
    expect(await rejection(collect(etcdSnapshotBody(snap(), chunks([Uint8Array.of(1, 2)]), { size: 1 })))).toBe(ErrorCode.SNAPSHOT_SIZE);
    expect(await rejection(collect(etcdSnapshotBody(snap(), chunks([]), { size: -1 })))).toBe(ErrorCode.INVALID_MESSAGE);
    expect(errorCode(() => encodeEtcdSnapshotEnvelope(createMessage({ type: MessageType.MsgApp })))).toBe(ErrorCode.INVALID_MESSAGE);
  });

  it('aborts a send through its signal', async () => {
    const ac = new AbortController();
    const gen = etcdSnapshotBody(
      snap(),
      (async function* () {
        yield Uint8Array.of(1);
        await new Promise(() => {}); // a source that never ends
      })(),
      { signal: ac.signal },
    );
    await gen.next();
    await gen.next();
    const pending = gen.next();
    ac.abort();
    expect(await rejection(pending)).toBe(ErrorCode.ABORTED);
  });

  it('reads a request from an async source: the MsgSnap, then the rest as a stream', async () => {
    const db = new Uint8Array(100_000).fill(3);
    const wire = concat([encodeEtcdSnapshotEnvelope(snap([4, 5])), db]);
    const req = await readEtcdSnapshot(chunks(splitAt(wire, [5, 20, 21, 40, 5000, 77_777])));
    expect(messagesEqual(req.message, snap([4, 5]))).toBe(true);
    const body = await collect(req.body);
    expect(body.length).toBe(db.length);
    expect(body.every((b) => b === 3)).toBe(true);
    expect(req.body.consumed).toBe(db.length);
    expect(await rejection(collect(req.body))).toBe(ErrorCode.INVALID_MESSAGE); // a body is read once
  });

  it('caps the database, and a request ending inside the envelope is truncated', async () => {
    const wire = concat([encodeEtcdSnapshotEnvelope(snap()), new Uint8Array(11)]);
    const envelopeBytes = wire.length - 11;
    const req = await readEtcdSnapshot(chunks([wire.subarray(0, envelopeBytes + 4), wire.subarray(envelopeBytes + 4)]), {
      maxBodyBytes: 10,
    });
    expect(await rejection(collect(req.body))).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(await rejection(readEtcdSnapshot(chunks([wire]), { maxBodyBytes: 10 }))).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(await rejection(readEtcdSnapshot(chunks([wire.subarray(0, 12)])))).toBe(ErrorCode.TRUNCATED);
    expect(await rejection(readEtcdSnapshot(chunks([hex('0000000000000002' + '0880')])))).toBe(ErrorCode.DECODE);
    expect(await rejection(readEtcdSnapshot(chunks([hex('0000000000000400')]), { maxEnvelopeBytes: 1023 }))).toBe(
      ErrorCode.FRAME_TOO_LARGE,
    );
  });

  it('refuses a request whose envelope holds anything but a MsgSnap, and stops reading it', async () => {
    let closed = false;
    const source = (async function* () {
      try {
        yield encodeEtcdFrame(etcdMessageCodec.encode(createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 4 })));
        yield Uint8Array.of(1, 2, 3);
      } finally {
        closed = true;
      }
    })();
    const err = await readEtcdSnapshot(source).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RaftwireError);
    expect((err as RaftwireError).code).toBe(ErrorCode.INVALID_MESSAGE);
    expect((err as RaftwireError).message).toMatch(/MsgApp/);
    await new Promise((r) => setTimeout(r, 0));
    expect(closed).toBe(true);
  });

  it('rejects a declared 2^63-byte envelope at once, without allocating, and stays failed', () => {
    const dec = new EtcdSnapshotDecoder();
    expect(expectNoHeapGrowth(() => errorCode(() => dec.push(hex('8000000000000000'))))).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(errorCode(() => dec.push(Uint8Array.of(1)))).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(errorCode(() => dec.end())).toBe(ErrorCode.FRAME_TOO_LARGE);
  });

  it('stops reading the source when the body is closed unread', async () => {
    let closed = false;
    const source = (async function* () {
      try {
        yield encodeEtcdSnapshotEnvelope(snap());
        yield Uint8Array.of(1);
      } finally {
        closed = true;
      }
    })();
    const req = await readEtcdSnapshot(source);
    await req.body.close();
    expect(closed).toBe(true);
  });
});
