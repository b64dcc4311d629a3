import { describe, expect, it } from 'vitest';
import { parseEtcdMemberArgs } from '../src/etcd-member-args.js';
import { UsageError } from '../src/usage-error.js';

const base = [
  '--id',
  '8ed009814a32cd02',
  '--name',
  'rw1',
  '--listen',
  'http://127.0.0.1:2380',
  '--peers',
  'http://127.0.0.1:2480,http://127.0.0.1:2580',
  '--data-dir',
  '/tmp/rw',
];

function usage(argv: string[]): string {
  try {
    parseEtcdMemberArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  throw new Error('expected a usage error');
}

describe('raftwire etcd-member arguments', () => {
  it('takes the ID etcdctl member add printed, the peers, and --insecure or the three peer TLS files', () => {
    const cfg = parseEtcdMemberArgs([...base, '--insecure']);
    expect(cfg).toMatchObject({
      id: 0x8ed009814a32cd02n,
      name: 'rw1',
      peers: ['http://127.0.0.1:2480', 'http://127.0.0.1:2580'],
      tls: null,
    });
    expect(cfg.heartbeatMs).toBe(100);
    expect(cfg.electionMs).toBe(1000);
    const https = base.map((a) => a.replaceAll('http://', 'https://'));
    const tls = parseEtcdMemberArgs([
      ...https,
      '--peer-cert-file',
      'p.crt',
      '--peer-key-file',
      'p.key',
      '--peer-trusted-ca-file',
      'ca.crt',
    ]);
    expect(tls.tls).toEqual({ certFile: 'p.crt', keyFile: 'p.key', trustedCaFile: 'ca.crt' });
  });

  it('refuses a member that does not say how its peers are secured, or says it two ways', () => {
    expect(usage(base)).toMatch(/--insecure/);
    expect(usage([...base, '--insecure', '--peer-cert-file', 'p.crt'])).toMatch(/cannot be combined/);
    const https = base.map((a) => a.replaceAll('http://', 'https://'));
    expect(usage([...https, '--peer-cert-file', 'p.crt'])).toMatch(/needs all of/);
    expect(usage([...https, '--insecure'])).toMatch(/is https:\/\//);
    expect(usage([...base, '--peer-cert-file', 'a', '--peer-key-file', 'b', '--peer-trusted-ca-file', 'c'])).toMatch(/must be https/);
  });

  it('refuses bad IDs, missing flags, its own URL among the peers and inconsistent timeouts', () => {
    expect(usage(['--name', 'x'])).toMatch(/--id is required/);
    expect(usage([...base.map((a) => (a === '8ed009814a32cd02' ? '8ED0' : a)), '--insecure'])).toMatch(/not a member ID/);
    expect(usage([...base.map((a) => (a.startsWith('http://127.0.0.1:2480') ? 'http://127.0.0.1:2380' : a)), '--insecure'])).toMatch(
      /own --listen/,
    );
    expect(usage([...base, '--insecure', '--heartbeat-interval', '600', '--election-timeout', '1000'])).toMatch(/at least twice/);
    expect(usage([...base.slice(0, 8), '--insecure'])).toMatch(/--data-dir is required/);
  });
});
