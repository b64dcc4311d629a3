import { type Id, parseId } from '@raftwire/core';
import { intFlag, logFlags, parseFlags } from './flags.js';
import type { LogFormat, LogLevel } from './log.js';
import { origin } from './member-args.js';
import { UsageError } from './usage-error.js';

/** TLS files, named after etcd's `--peer-*` flags. */
export interface PeerTlsFiles {
  certFile: string;
  keyFile: string;
  trustedCaFile: string;
}

/** A parsed and validated `raftwire etcd-member` command line. */
export interface EtcdMemberConfig {
  id: Id;
  name: string;
  /** This member's peer URL: served here and registered with `etcdctl member add --peer-urls`. */
  listen: URL;
  /** Peer URLs of etcd members to discover the cluster from. */
  peers: string[];
  dataDir: string;
  /** null with `--insecure`. */
  tls: PeerTlsFiles | null;
  /** etcd's `--heartbeat-interval` and `--election-timeout`, in ms. */
  heartbeatMs: number;
  electionMs: number;
  compactEntries: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
}

function peerUrl(flag: string, text: string, scheme: 'http:' | 'https:'): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a URL (want e.g. ${scheme}//127.0.0.1:2380)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError(`${flag}: ${JSON.stringify(text)} must be http:// or https://`);
  if (u.protocol !== scheme) {
    throw new UsageError(
      scheme === 'https:'
        ? `${flag}: ${JSON.stringify(text)} must be https:// when the peer TLS files are given`
        : `${flag}: ${JSON.stringify(text)} is https://: give --peer-cert-file, --peer-key-file and --peer-trusted-ca-file instead of --insecure`,
    );
  }
  if (u.port === '') throw new UsageError(`${flag}: ${JSON.stringify(text)} needs an explicit port`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} must be scheme://host:port only`);
  }
  return u;
}

/** Parses `raftwire etcd-member` arguments (after the word `etcd-member`); throws {@link UsageError}. */
export function parseEtcdMemberArgs(argv: readonly string[]): EtcdMemberConfig {
  const { values } = parseFlags(argv, {
    id: { type: 'string' },
    name: { type: 'string' },
    listen: { type: 'string' },
    peers: { type: 'string' },
    'data-dir': { type: 'string' },
    insecure: { type: 'boolean' },
    'peer-cert-file': { type: 'string' },
    'peer-key-file': { type: 'string' },
    'peer-trusted-ca-file': { type: 'string' },
    'heartbeat-interval': { type: 'string' },
    'election-timeout': { type: 'string' },
    'compact-entries': { type: 'string' },
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
  });
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const need = (k: string): string => {
    const v = str(k);
    if (v === undefined || v === '') throw new UsageError(`--${k} is required`);
    return v;
  };
  let id: Id;
  const idText = need('id');
  try {
    id = parseId(idText);
  } catch {
    throw new UsageError(`--id: ${JSON.stringify(idText)} is not a member ID (the lowercase hex ID \`etcdctl member add\` printed)`);
  }
  if (id === 0n) throw new UsageError('--id: member ID must not be 0');
  const name = need('name');

  const cert = str('peer-cert-file');
  const key = str('peer-key-file');
  const ca = str('peer-trusted-ca-file');
  const anyTls = cert !== undefined || key !== undefined || ca !== undefined;
  const insecure = values.insecure === true;
  if (insecure && anyTls) throw new UsageError('--insecure cannot be combined with the --peer-*-file TLS flags');
  if (!insecure && !anyTls) {
    throw new UsageError(
      'say how peers are secured: --peer-cert-file, --peer-key-file and --peer-trusted-ca-file for an etcd cluster with peer TLS, or --insecure for one without',
    );
  }
  let tls: PeerTlsFiles | null = null;
  if (anyTls) {
    if (!cert || !key || !ca) throw new UsageError('peer TLS needs all of --peer-cert-file, --peer-key-file and --peer-trusted-ca-file');
    tls = { certFile: cert, keyFile: key, trustedCaFile: ca };
  }
  const scheme = tls ? 'https:' : 'http:';
  const listen = peerUrl('--listen', need('listen'), scheme);
  const peers = need('peers')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => origin(peerUrl('--peers', p, scheme)));
  if (peers.length === 0) throw new UsageError('--peers needs at least one etcd peer URL');
  if (peers.includes(origin(listen))) throw new UsageError(`--peers: ${origin(listen)} is this member's own --listen URL`);

  const heartbeatMs = intFlag('--heartbeat-interval', str('heartbeat-interval'), 100, 1, 10_000);
  const electionMs = intFlag('--election-timeout', str('election-timeout'), 1000, 1, 60_000);
  if (electionMs < 2 * heartbeatMs) throw new UsageError('--election-timeout must be at least twice --heartbeat-interval');
  const log = logFlags(str('log-level'), str('log-format'));
  return {
    id,
    name,
    listen,
    peers,
    dataDir: need('data-dir'),
    tls,
    heartbeatMs,
    electionMs,
    compactEntries: intFlag('--compact-entries', str('compact-entries'), 10_000, 1, 100_000_000),
    ...log,
  };
}
