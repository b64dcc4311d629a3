import { ErrorCode } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../src/raft-node.js';
import { MemoryStorage } from '../src/storage.js';

const node = () => new RaftNode({ id: 1n, storage: new MemoryStorage() });
/** A node whose initial peers are itself and members 2, 3, ... at `urls`. */
const withPeers = (...urls: string[]) =>
  new RaftNode({
    id: 1n,
    storage: new MemoryStorage(),
    peers: [{ id: 1n, url: 'http://127.0.0.1:2380' }, ...urls.map((url, i) => ({ id: BigInt(i + 2), url }))],
  });

/**
 * A member URL is checked the way the transport checks peer URLs when the change is applied
 * (scheme, host, port for http/https, no path or credentials, bounded length): a URL the
 * transport would refuse must be refused before it is proposed, never committed.
 */
describe('member URLs', () => {
  const refused = [
    'x:',
    '',
    'http:',
    'http://',
    'http://127.0.0.1',
    'ftp://127.0.0.1:2380',
    'http://user:pw@127.0.0.1:2380',
    'http://127.0.0.1:2380/raft',
    `http://${'a'.repeat(600)}:2380`,
  ];

  it.each(refused)('addMember refuses %j with ERR_INVALID_URL', async (url) => {
    await expect(node().addMember(2n, url)).rejects.toMatchObject({ code: ErrorCode.INVALID_URL });
  });

  it.each(refused)('a peer list with %j is refused at construction with ERR_INVALID_URL', (url) => {
    expect(() => withPeers(url)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_URL }));
  });

  it('accepts the peer URLs the transport accepts', () => {
    expect(() => withPeers('https://[::1]:2381', 'webrtc://3', 'http://localhost:2382')).not.toThrow();
  });

  it('removeMember checks the ID alone', async () => {
    await expect(node().removeMember(0n)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(node().removeMember(9n)).rejects.toMatchObject({ code: ErrorCode.MEMBER_NOT_FOUND });
  });
});
