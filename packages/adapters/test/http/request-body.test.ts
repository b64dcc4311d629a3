import { ErrorCode, type ProtocolHandler, isRaftwireError } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Resources, bytes, clients } from './helpers.js';

/** Reads the request body to its end, then tries a second read; answers with what that threw. */
const readTwice: ProtocolHandler = async (req) => {
  let n = 0;
  for await (const chunk of req.body) n += chunk.length;
  let second = 'no error';
  try {
    req.body[Symbol.asyncIterator]();
  } catch (err) {
    second = isRaftwireError(err) ? err.code : `untyped: ${String(err)}`;
  }
  return { status: 200, headers: { 'x-bytes': String(n), 'x-second-read': second } };
};

describe.each(clients)('request body over node:http with %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('refuses a second read with ERR_BODY_CONSUMED', async () => {
    const server = await r.server(readTwice);
    const link = r.link(makeLink());
    const res = await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: bytes('snapshot bytes') });
    expect(res.status).toBe(200);
    expect(res.headers['x-bytes']).toBe('14');
    expect(res.headers['x-second-read']).toBe(ErrorCode.BODY_CONSUMED);
  });
});
