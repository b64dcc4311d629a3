import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, STACKS, makePair, testHandler } from './helpers.js';

describe.each(STACKS)('smoke %s', (stack) => {
  let pair: Pair | undefined;
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });
  it('connects and answers a request', async () => {
    pair = await makePair(stack, testHandler());
    const res = await pair.a.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array([1, 2, 3]) });
    expect(res.status).toBe(204);
    expect(res.headers['x-body-bytes']).toBe('3');
  });
});
