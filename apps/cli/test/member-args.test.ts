import { describe, expect, it } from 'vitest';
import { parseClusterArgs, localMember } from '../src/cluster.js';
import { createLogger } from '../src/log.js';
import { parseMemberArgs } from '../src/member-args.js';
import { UsageError } from '../src/usage-error.js';

const base = ['--id', 'a1', '--listen', 'http://127.0.0.1:2380', '--api', 'http://127.0.0.1:2381', '--insecure'];
const tlsFlags = ['--peer-cert-file', 'm.crt', '--peer-key-file', 'm.key', '--peer-trusted-ca-file', 'ca.crt', '--api-token-file', 'tok'];

function usage(argv: string[]): string {
  try {
    parseMemberArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).code).toBe('ERR_USAGE');
    return (err as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}

describe('raftwire member flags', () => {
  it('parses a full command line', () => {
    const c = parseMemberArgs([...base, '--peer', 'b2=http://127.0.0.1:2382', '--peer', 'c3=http://[::1]:2384', '--data-dir', '/tmp/x']);
    expect(c.id).toBe(0xa1n);
    expect(c.peers).toEqual([
      { id: 0xb2n, url: 'http://127.0.0.1:2382' },
      { id: 0xc3n, url: 'http://[::1]:2384' },
    ]);
    expect(c.clusterId).toBeNull(); // resolved at start: derived, recorded or learned
    expect(c.initialClusterToken).toBe('raftwire-cluster');
    expect(usage([...base, '--initial-cluster-token', ''])).toMatch(/--initial-cluster-token/);
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.join).toBe(false);
    expect(c.logFormat).toBe('text');
  });

  it('rejects bad input with a message that names the flag', () => {
    expect(usage(['--listen', 'http://127.0.0.1:1', '--api', 'http://127.0.0.1:2', '--insecure'])).toMatch(/--id is required/);
    expect(usage(['--id', 'XYZ', ...base.slice(2)])).toMatch(/--id: "XYZ" is not a member ID/);
    expect(usage(['--id', '0', ...base.slice(2)])).toMatch(/must not be 0/);
    expect(usage(['--id', '12345678901234567', ...base.slice(2)])).toMatch(/not a member ID/);
    expect(usage([...base, '--peer', 'b2'])).toMatch(/<hex-id>=<url>/);
    expect(usage([...base, '--peer', 'zz=http://127.0.0.1:3'])).toMatch(/--peer: "zz" is not a member ID/);
    expect(usage([...base, '--peer', 'b2=http://127.0.0.1:3', '--peer', 'b2=http://127.0.0.1:4'])).toMatch(/duplicate member ID b2/);
    expect(usage([...base, '--peer', 'a1=http://127.0.0.1:3'])).toMatch(/own --id/);
    expect(usage([...base, '--peer', 'b2=http://127.0.0.1:2380'])).toMatch(/used twice/);
    expect(usage([...base, '--peer', 'b2=ftp://127.0.0.1:3'])).toMatch(/must be an http:\/\/ URL/);
    expect(usage(['--id', 'a1', '--listen', 'http://127.0.0.1', '--api', 'http://127.0.0.1:2381', '--insecure'])).toMatch(/explicit port/);
    expect(usage(['--id', 'a1', '--listen', 'http://127.0.0.1:5/raft', '--api', 'http://127.0.0.1:2381', '--insecure'])).toMatch(
      /host:port only/,
    );
    expect(usage(['--id', 'a1', '--listen', 'http://127.0.0.1:5', '--api', 'http://127.0.0.1:5', '--insecure'])).toMatch(/must differ/);
    expect(usage([...base, '--join'])).toMatch(/--join needs at least one --peer/);
    expect(usage([...base, '--log-level', 'loud'])).toMatch(/--log-level/);
    expect(usage([...base, '--tick-ms', '0'])).toMatch(/out of range/);
    expect(usage([...base, '--bogus'])).toMatch(/bogus/);
  });
});

describe('raftwire member security flags', () => {
  const urls = ['--id', 'a1', '--listen', 'https://127.0.0.1:2380', '--api', 'https://127.0.0.1:2381'];
  it('refuses to run unauthenticated unless told --insecure', () => {
    const msg = usage(['--id', 'a1', '--listen', 'http://127.0.0.1:2380', '--api', 'http://127.0.0.1:2381']);
    expect(msg).toMatch(/--peer-cert-file, --peer-key-file, --peer-trusted-ca-file and --api-token-file/);
    expect(msg).toMatch(/--insecure to run plain http with no authentication/);
  });
  it('takes certificate flags with https URLs, the API defaulting to the peer certificate', () => {
    const c = parseMemberArgs([...urls, ...tlsFlags, '--peer', 'b2=https://127.0.0.1:2382']);
    expect(c.insecure).toBe(false);
    expect(c.tls).toEqual({ peerCert: 'm.crt', peerKey: 'm.key', peerCa: 'ca.crt', apiCert: 'm.crt', apiKey: 'm.key', apiToken: 'tok' });
    const d = parseMemberArgs([...urls, ...tlsFlags, '--api-cert-file', 'a.crt', '--api-key-file', 'a.key']);
    expect(d.tls).toMatchObject({ apiCert: 'a.crt', apiKey: 'a.key' });
    expect(parseMemberArgs(base).tls).toBeNull();
  });
  it('names what is missing or contradictory', () => {
    expect(usage([...urls, ...tlsFlags.slice(0, 4), '--api-token-file', 't'])).toMatch(/--peer-trusted-ca-file is required/);
    expect(usage([...urls, ...tlsFlags.slice(0, 6)])).toMatch(/--api-token-file is required/);
    expect(usage([...urls, ...tlsFlags, '--api-cert-file', 'a.crt'])).toMatch(/--api-cert-file and --api-key-file go together/);
    expect(usage([...base, '--peer-cert-file', 'm.crt'])).toMatch(/--insecure and --peer-cert-file contradict/);
    expect(usage(['--id', 'a1', '--listen', 'http://127.0.0.1:2380', '--api', 'https://127.0.0.1:2381', ...tlsFlags])).toMatch(
      /--listen: "http:\/\/127.0.0.1:2380" must be an https:\/\/ URL: members use TLS/,
    );
    expect(usage([...urls, ...tlsFlags, '--peer', 'b2=http://127.0.0.1:2382'])).toMatch(/--peer: .* must be an https:\/\/ URL/);
    expect(usage(['--id', 'a1', '--listen', 'https://127.0.0.1:2380', '--api', 'http://127.0.0.1:2381', '--insecure'])).toMatch(
      /must be an http:\/\/ URL: with --insecure/,
    );
  });
});

describe('raftwire cluster flags', () => {
  it('defaults to 3 members on 127.0.0.1 from port 2380 and validates', () => {
    const c = parseClusterArgs([]);
    expect(c.size).toBe(3);
    expect(localMember(2, c.basePort)).toEqual({ id: '2', peerUrl: 'http://127.0.0.1:2382', apiUrl: 'http://127.0.0.1:2383' });
    expect(() => parseClusterArgs(['--size', '0'])).toThrow(/--size/);
    expect(() => parseClusterArgs(['--base-port', '80'])).toThrow(/--base-port/);
    expect(() => parseClusterArgs(['--size', '3', '--base-port', '65534'])).toThrow(/--base-port/);
    expect(c.insecure).toBe(false);
    expect(localMember(1, 2380, 'https').apiUrl).toBe('https://127.0.0.1:2381');
    expect(() => parseClusterArgs(['--runtimes', 'node,deno'])).toThrow(/members on deno cannot authenticate peers .* pass --insecure/);
    expect(parseClusterArgs(['--runtimes', 'node,deno', '--insecure']).runtimes).toEqual(['node', 'deno']);
  });
});

describe('CLI logger', () => {
  it('writes one readable line per event, or pino-shaped JSON, above the level', () => {
    const lines: string[] = [];
    const text = createLogger({ level: 'info', format: 'text', write: (l) => lines.push(l) }).child({ 'local-member-id': 'a1' });
    text.debug({ x: 1 }, 'hidden');
    text.info({ 'remote-peer-id': 2n, note: 'two words' }, 'added remote peer');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\S+Z INFO {2}added remote peer local-member-id=a1 remote-peer-id=2 note="two words"\n$/);
    const json: string[] = [];
    createLogger({ level: 'warn', format: 'json', write: (l) => json.push(l) }).warn({ err: new Error('boom') }, 'lost stream');
    const o = JSON.parse(json[0] as string) as Record<string, unknown>;
    expect(o).toMatchObject({ level: 40, msg: 'lost stream', err: { type: 'Error', message: 'boom' } });
    expect(typeof o.time).toBe('number');
  });
});
