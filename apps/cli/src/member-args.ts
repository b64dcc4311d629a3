import { parseArgs } from 'node:util';
import { formatId, type Id, parseId } from '@raftwire/core';
import { intFlag, logFlags } from './flags.js';
import type { LogFormat, LogLevel } from './log.js';
import { UsageError } from './usage-error.js';

/** Default cluster ID (the ASCII bytes of "raftwire"); every member of a cluster must use the same. */
export const DEFAULT_CLUSTER_ID = 0x7261667477697265n;

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
  clusterId: Id;
  join: boolean;
  /** `--insecure`: plain http between members and on the API, no authentication. */
  insecure: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  tickMs: number;
  electionTicks: number;
  snapshotEntries: number;
  snapshotCatchUpEntries: number;
}

function httpUrl(flag: string, text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a URL (want e.g. http://127.0.0.1:2380)`);
  }
  if (u.protocol !== 'http:') throw new UsageError(`${flag}: ${JSON.stringify(text)} must be an http:// URL`);
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
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        id: { type: 'string' },
        listen: { type: 'string' },
        api: { type: 'string' },
        peer: { type: 'string', multiple: true },
        'data-dir': { type: 'string' },
        'cluster-id': { type: 'string' },
        join: { type: 'boolean' },
        insecure: { type: 'boolean' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        'tick-ms': { type: 'string' },
        'election-ticks': { type: 'string' },
        'snapshot-entries': { type: 'string' },
        'snapshot-catch-up-entries': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const need = (k: string): string => {
    const v = str(k);
    if (v === undefined || v === '') throw new UsageError(`--${k} is required`);
    return v;
  };
  const self = id('--id', need('id'));
  const listen = httpUrl('--listen', need('listen'));
  const api = httpUrl('--api', need('api'));
  if (listen.host === api.host) throw new UsageError(`--listen and --api must differ (both ${listen.host})`);
  const peers: { id: Id; url: string }[] = [];
  const seenUrls = new Set<string>([origin(listen)]);
  for (const spec of (values.peer as string[] | undefined) ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--peer: ${JSON.stringify(spec)} must look like <hex-id>=<url>`);
    const pid = id('--peer', spec.slice(0, eq));
    const url = origin(httpUrl('--peer', spec.slice(eq + 1)));
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
    clusterId: cid === undefined ? DEFAULT_CLUSTER_ID : id('--cluster-id', cid),
    join,
    insecure: values.insecure === true,
    ...log,
    tickMs: intFlag('--tick-ms', str('tick-ms'), 100, 1, 10_000),
    electionTicks: intFlag('--election-ticks', str('election-ticks'), 10, 2, 1000),
    snapshotEntries: intFlag('--snapshot-entries', str('snapshot-entries'), 10_000, 1, 100_000_000),
    snapshotCatchUpEntries: intFlag('--snapshot-catch-up-entries', str('snapshot-catch-up-entries'), 5_000, 0, 100_000_000),
  };
}
