import { ErrorCode } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { readTwice } from '../read-twice.js';
import { Resources, bytes, clients } from './helpers.js';

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
