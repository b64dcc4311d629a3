import { formatId, type Id, parseId } from '@raftwire/core';
import { intFlag, logFlags, parseFlags } from './flags.js';
import type { LogFormat, LogLevel } from './log.js';
import { DEFAULT_CLUSTER_TOKEN } from './cluster-id.js';
import { UsageError } from './usage-error.js';

function clusterToken(text: string | undefined): string {
  if (text === undefined) return DEFAULT_CLUSTER_TOKEN;
  if (text === '' || text.length > 256 || [...text].some((c) => c.charCodeAt(0) < 0x20)) {
    throw new UsageError(`--initial-cluster-token: ${JSON.stringify(text.slice(0, 64))} must be 1 to 256 printable characters`);
  }
  return text;
}

/** A parsed and validated `raftwire member` command line. */
export interface MemberConfig {
  id: Id;
  /** Peer URL this member serves the raft protocol on (and advertises). */
  listen: URL;
  /** Client API URL. */
  api: URL;
  /** The other members of the initial cluster (or, with `join`, members to contact). */
  peers: { id: Id; url: string }[];
  dataDir: string | null;
  /** `--cluster-id`, or null: then resolved at start (see cluster-id.ts). */
  clusterId: Id | null;
  /** `--initial-cluster-token`: mixed into the derived cluster ID. */
  initialClusterToken: string;
  join: boolean;
  /** `--insecure`: plain http between members and on the API, no authentication. */
  insecure: boolean;
  /** Files of a secure member (null with `--insecure`). */
  tls: MemberTlsFiles | null;
  logLevel: LogLevel;
  logFormat: LogFormat;
  tickMs: number;
  electionTicks: number;
  snapshotEntries: number;
  snapshotCatchUpEntries: number;
  /**
   * `--stop-on-stdin-close`: stop (as on SIGTERM) when standard input ends. `raftwire cluster`
   * passes it with a pipe it never writes, so its members stop when it is gone, even killed.
   */
  stopOnStdinClose: boolean;
}

/** The files a secure member reads at start (paths as given). */
export interface MemberTlsFiles {
  /** This member's certificate and key: presented to peers and, as a client, when dialling them. */
  peerCert: string;
  peerKey: string;
  /** The CA that peers' certificates must chain to (mutual TLS). */
  peerCa: string;
  /** The API's certificate and key (default: the peer certificate and key). */
  apiCert: string;
  apiKey: string;
  /** A file holding the API bearer token. */
  apiToken: string;
}

const TLS_FLAGS = ['peer-cert-file', 'peer-key-file', 'peer-trusted-ca-file', 'api-cert-file', 'api-key-file', 'api-token-file'] as const;

/** The message for a member started with neither certificates nor --insecure. */
export const NEED_SECURITY =
  'members authenticate each other: pass --peer-cert-file, --peer-key-file, --peer-trusted-ca-file and --api-token-file ' +
  '(make them with raftwire cert, or let raftwire cluster make them), or --insecure to run plain http with no authentication';

function httpUrl(flag: string, text: string, scheme: 'http:' | 'https:' = 'http:'): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a URL (want e.g. http://127.0.0.1:2380)`);
  }
  if (u.protocol !== scheme) {
    const why = scheme === 'https:' ? 'members use TLS (without --insecure)' : 'with --insecure members use plain http';
    throw new UsageError(`${flag}: ${JSON.stringify(text)} must be an ${scheme}// URL: ${why}`);
  }
  if (u.port === '') throw new UsageError(`${flag}: ${JSON.stringify(text)} needs an explicit port`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} must be scheme://host:port only`);
  }
  return u;
}

/** The host to bind for a URL (brackets removed from IPv6). */
export function bindHost(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '');
}

/** A URL without the trailing slash `URL` adds. */
export function origin(u: URL): string {
  return `${u.protocol}//${u.host}`;
}

function id(flag: string, text: string): Id {
  try {
    const v = parseId(text);
    if (v === 0n) throw new UsageError(`${flag}: member ID must not be 0`);
    return v;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a member ID (want lowercase hex, 1 to 16 digits, not 0)`);
  }
}

/** Parses `raftwire member` arguments (after the word `member`); throws {@link UsageError}. */
export function parseMemberArgs(argv: readonly string[]): MemberConfig {
  const { values } = parseFlags(argv, {
    id: { type: 'string' },
    listen: { type: 'string' },
    api: { type: 'string' },
    peer: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    'cluster-id': { type: 'string' },
    'initial-cluster-token': { type: 'string' },
    join: { type: 'boolean' },
    insecure: { type: 'boolean' },
    ...Object.fromEntries(TLS_FLAGS.map((f) => [f, { type: 'string' as const }])),
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
    'tick-ms': { type: 'string' },
    'election-ticks': { type: 'string' },
    'snapshot-entries': { type: 'string' },
    'snapshot-catch-up-entries': { type: 'string' },
    'stop-on-stdin-close': { type: 'boolean' },
  });
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const need = (k: string): string => {
    const v = str(k);
    if (v === undefined || v === '') throw new UsageError(`--${k} is required`);
    return v;
  };
  const self = id('--id', need('id'));
  const insecure = values.insecure === true;
  const given = TLS_FLAGS.filter((f) => str(f) !== undefined);
  let tls: MemberTlsFiles | null = null;
  if (insecure) {
    if (given.length > 0) throw new UsageError(`--insecure and --${given[0]} contradict each other: pass one or the other`);
  } else {
    if (given.length === 0) throw new UsageError(NEED_SECURITY);
    const peerCert = need('peer-cert-file');
    const peerKey = need('peer-key-file');
    const apiCert = str('api-cert-file');
    const apiKey = str('api-key-file');
    if ((apiCert === undefined) !== (apiKey === undefined)) throw new UsageError('--api-cert-file and --api-key-file go together');
    tls = {
      peerCert,
      peerKey,
      peerCa: need('peer-trusted-ca-file'),
      apiCert: apiCert ?? peerCert,
      apiKey: apiKey ?? peerKey,
      apiToken: need('api-token-file'),
    };
  }
  const scheme = insecure ? 'http:' : 'https:';
  const listen = httpUrl('--listen', need('listen'), scheme);
  const api = httpUrl('--api', need('api'), scheme);
  if (listen.host === api.host) throw new UsageError(`--listen and --api must differ (both ${listen.host})`);
  const peers: { id: Id; url: string }[] = [];
  const seenUrls = new Set<string>([origin(listen)]);
  for (const spec of (values.peer as string[] | undefined) ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--peer: ${JSON.stringify(spec)} must look like <hex-id>=<url>`);
    const pid = id('--peer', spec.slice(0, eq));
    const url = origin(httpUrl('--peer', spec.slice(eq + 1), scheme));
    if (pid === self) throw new UsageError(`--peer: ${formatId(pid)} is this member's own --id`);
    if (peers.some((p) => p.id === pid)) throw new UsageError(`--peer: duplicate member ID ${formatId(pid)}`);
    if (seenUrls.has(url)) throw new UsageError(`--peer: URL ${url} is used twice`);
    seenUrls.add(url);
    peers.push({ id: pid, url });
  }
  const join = values.join === true;
  if (join && peers.length === 0) throw new UsageError('--join needs at least one --peer to contact');
  const log = logFlags(str('log-level'), str('log-format'));
  const dataDir = str('data-dir');
  if (dataDir === '') throw new UsageError('--data-dir must not be empty');
  const cid = str('cluster-id');
  return {
    id: self,
    listen,
    api,
    peers,
    dataDir: dataDir ?? null,
    clusterId: cid === undefined ? null : id('--cluster-id', cid),
    initialClusterToken: clusterToken(str('initial-cluster-token')),
    join,
    insecure,
    tls,
    ...log,
    tickMs: intFlag('--tick-ms', str('tick-ms'), 100, 1, 10_000),
    electionTicks: intFlag('--election-ticks', str('election-ticks'), 10, 2, 1000),
    snapshotEntries: intFlag('--snapshot-entries', str('snapshot-entries'), 10_000, 1, 100_000_000),
    snapshotCatchUpEntries: intFlag('--snapshot-catch-up-entries', str('snapshot-catch-up-entries'), 5_000, 0, 100_000_000),
    stopOnStdinClose: values['stop-on-stdin-close'] === true,
  };
}
