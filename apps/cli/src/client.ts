/**
 * The client commands (`raftwire put|get|del|status|members|member add|member remove`), like
 * etcdctl's: one request to a member's client API, a plain answer on stdout, a message naming
 * the cause on stderr and exit 1 when it fails.
 *
 * Plain http (a cluster started with `--insecure`) or https with a CA to trust (`--cacert`) and a
 * bearer token (`--token-file`); `--pki DIR` is both at once from the files `raftwire cluster`
 * writes in `<data-dir>/pki` (`ca.crt`, `api-token`).
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import { intFlag, parseFlags } from './flags.js';
import { UsageError } from './usage-error.js';

export const CLIENT_COMMANDS = ['put', 'get', 'del', 'status', 'members', 'member add', 'member remove'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

/** Member 1's API in `raftwire cluster` with the default base port. */
export const DEFAULT_ENDPOINT_PORT = 2381;

export interface ClientConfig {
  command: ClientCommand;
  args: string[];
  endpoint: URL;
  timeoutMs: number;
  /** PEM text of the CA to trust (https only). */
  ca: string | null;
  /** Bearer token (https only). */
  token: string | null;
  json: boolean;
  raw: boolean;
  learner: boolean;
}

export interface ClientIo {
  stdout(data: string | Uint8Array): void;
  stderr(text: string): void;
}

const ARITY: Record<ClientCommand, string[]> = {
  put: ['key', 'value'],
  get: ['key'],
  del: ['key'],
  status: [],
  members: [],
  'member add': ['id', 'peerUrl'],
  'member remove': ['id'],
};

function readFlagFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`${flag}: cannot read ${JSON.stringify(file)} (${code})`);
  }
}

/** Parses a client command's arguments (after the command words); throws {@link UsageError}. */
export function parseClientArgs(command: ClientCommand, argv: readonly string[]): ClientConfig {
  const { values, positionals } = parseFlags(
    argv,
    {
      endpoint: { type: 'string' },
      'timeout-ms': { type: 'string' },
      cacert: { type: 'string' },
      'token-file': { type: 'string' },
      pki: { type: 'string' },
      ...(command === 'status' || command === 'members' ? { json: { type: 'boolean' as const } } : {}),
      ...(command === 'get' ? { raw: { type: 'boolean' as const } } : {}),
      ...(command === 'member add' ? { learner: { type: 'boolean' as const } } : {}),
    },
    true,
  );
  const want = ARITY[command];
  if (positionals.length !== want.length) {
    const got = positionals.length === 0 ? 'none' : positionals.map((p) => JSON.stringify(p)).join(' ');
    throw new UsageError(
      want.length === 0
        ? `${command} takes no arguments (got ${got})`
        : `${command} wants ${want.map((w) => `<${w}>`).join(' ')} (got ${got})`,
    );
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const pki = str('pki');
  if (pki !== undefined && (str('cacert') !== undefined || str('token-file') !== undefined)) {
    throw new UsageError('--pki is --cacert <dir>/ca.crt and --token-file <dir>/api-token: give one or the others');
  }
  const endpointText = str('endpoint') ?? `${pki !== undefined ? 'https' : 'http'}://127.0.0.1:${DEFAULT_ENDPOINT_PORT}`;
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new UsageError(`--endpoint: ${JSON.stringify(endpointText)} is not a URL (want e.g. http://127.0.0.1:2381)`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
    throw new UsageError(`--endpoint: ${JSON.stringify(endpointText)} must be http:// or https://`);
  }
  if ((endpoint.pathname !== '/' && endpoint.pathname !== '') || endpoint.search || endpoint.hash || endpoint.username) {
    throw new UsageError(`--endpoint: ${JSON.stringify(endpointText)} must be scheme://host:port only`);
  }
  const caFile = pki !== undefined ? join(pki, 'ca.crt') : str('cacert');
  const tokenFile = pki !== undefined ? join(pki, 'api-token') : str('token-file');
  const secureFlag = pki !== undefined ? '--pki' : caFile !== undefined ? '--cacert' : '--token-file';
  if ((caFile !== undefined || tokenFile !== undefined) && endpoint.protocol !== 'https:') {
    throw new UsageError(
      `${secureFlag} needs an https:// endpoint, not ${JSON.stringify(endpointText)} (a token must not travel over plain http)`,
    );
  }
  const ca = caFile === undefined ? null : readFlagFile(pki !== undefined ? '--pki' : '--cacert', caFile);
  const token = tokenFile === undefined ? null : readFlagFile(pki !== undefined ? '--pki' : '--token-file', tokenFile).trim();
  if (token === '') throw new UsageError(`${secureFlag}: the token file ${JSON.stringify(tokenFile)} is empty`);
  return {
    command,
    args: positionals,
    endpoint,
    timeoutMs: intFlag('--timeout-ms', str('timeout-ms'), 10_000, 1, 3_600_000),
    ca,
    token,
    json: values.json === true,
    raw: values.raw === true,
    learner: values.learner === true,
  };
}

interface Answer {
  status: number;
  body: Buffer;
  json(): Record<string, unknown>;
}

/** A failed request: printed as `raftwire <command>: <message>`, exit 1. */
export class ClientError extends Error {
  override readonly name = 'ClientError';
}

function request(
  cfg: ClientConfig,
  method: string,
  path: string,
  body?: Uint8Array | string,
  accept = 'application/json',
): Promise<Answer> {
  const url = new URL(path, cfg.endpoint);
  const headers: Record<string, string> = { accept };
  if (cfg.token !== null) headers.authorization = `Bearer ${cfg.token}`;
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const signal = AbortSignal.timeout(cfg.timeoutMs);
  return new Promise<Answer>((resolve, reject) => {
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          body: buf,
          json: () => {
            try {
              return JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
            } catch {
              throw new ClientError(
                `${method} ${url.pathname}: HTTP ${res.statusCode} with a body that is not JSON: ${buf.toString('utf8').slice(0, 200)}`,
              );
            }
          },
        });
      });
    };
    const req =
      url.protocol === 'https:'
        ? https.request(url, { method, headers, signal, ...(cfg.ca === null ? {} : { ca: cfg.ca }) }, onResponse)
        : http.request(url, { method, headers, signal }, onResponse);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (signal.aborted) {
        reject(new ClientError(`no answer from ${cfg.endpoint.origin} within ${cfg.timeoutMs} ms (--timeout-ms)`));
        return;
      }
      const hint =
        err.code === 'ECONNREFUSED'
          ? ' (is a member running there? start a cluster with `npm run raftwire -- cluster`, or pass --endpoint)'
          : /certificate|self.signed|CERT|SSL/i.test(`${err.code} ${err.message}`)
            ? ' (give the cluster CA: --pki <data-dir>/pki or --cacert <file>)'
            : err.code === 'ECONNRESET' && cfg.endpoint.protocol === 'http:'
              ? ' (an https server? use an https:// --endpoint with --pki)'
              : '';
      reject(new ClientError(`cannot reach ${cfg.endpoint.origin}: ${err.code ?? err.message}${hint}`));
    });
    req.end(body);
  });
}

/** The API's `{error, code}` answer as a ClientError with the status. */
function failed(cfg: ClientConfig, a: Answer): ClientError {
  let text = a.body.toString('utf8').slice(0, 300);
  try {
    const j = JSON.parse(text) as { error?: unknown; code?: unknown };
    if (typeof j.error === 'string') text = `${j.error}${typeof j.code === 'string' ? ` (${j.code})` : ''}`;
  } catch {
    // not JSON: shown as it is
  }
  const hint =
    a.status === 401 || a.status === 403
      ? cfg.token === null
        ? ' — the API wants a token: --pki <data-dir>/pki or --token-file <file>'
        : " — the token was refused: is it this cluster's <data-dir>/pki/api-token?"
      : '';
  return new ClientError(`HTTP ${a.status}: ${text}${hint}`);
}

const kvPath = (key: string): string => `/v1/kv/${encodeURIComponent(key)}`;

interface MemberView {
  id: string;
  peerUrl: string;
  role: string;
  started: string;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

function memberRows(members: unknown): MemberView[] {
  if (!Array.isArray(members)) return [];
  return members.map((m: Record<string, unknown>) => ({
    id: String(m.id),
    peerUrl: String(m.peerUrl ?? m.url ?? ''),
    role: m.learner === true || m.role === 'learner' ? 'learner' : 'voter',
    started: m.self === true ? 'self' : m.reachable === true ? 'reachable' : m.reachable === false ? 'unreachable' : '',
  }));
}

/** Runs one client command; resolves with the exit code (0 done, 1 failed). */
export async function runClient(cfg: ClientConfig, io: ClientIo): Promise<number> {
  try {
    return await run(cfg, io);
  } catch (err) {
    if (!(err instanceof ClientError)) throw err;
    io.stderr(`raftwire ${cfg.command}: ${err.message}\n`);
    return 1;
  }
}

async function run(cfg: ClientConfig, io: ClientIo): Promise<number> {
  const [a0 = '', a1 = ''] = cfg.args;
  switch (cfg.command) {
    case 'put': {
      const r = await request(cfg, 'PUT', kvPath(a0), a1, 'application/json');
      if (r.status !== 200) throw failed(cfg, r);
      io.stdout('OK\n');
      return 0;
    }
    case 'get': {
      // The value's bytes themselves (no JSON, no base64): printed exactly as stored.
      const r = await request(cfg, 'GET', kvPath(a0), undefined, 'application/octet-stream');
      if (r.status === 404) {
        io.stderr(`raftwire get: key ${JSON.stringify(a0)} not found\n`);
        return 1;
      }
      if (r.status !== 200) throw failed(cfg, r);
      io.stdout(new Uint8Array(r.body));
      if (!cfg.raw) io.stdout('\n');
      return 0;
    }
    case 'del': {
      const r = await request(cfg, 'DELETE', kvPath(a0));
      if (r.status !== 200) throw failed(cfg, r);
      io.stdout(`${r.json().existed === true ? 1 : 0}\n`);
      return 0;
    }
    case 'status': {
      const r = await request(cfg, 'GET', '/v1/status');
      if (r.status !== 200) throw failed(cfg, r);
      if (cfg.json) {
        io.stdout(`${r.body.toString('utf8')}\n`);
        return 0;
      }
      const s = r.json();
      const lines = [
        `member ${s.id}: ${String(s.state ?? '')
          .replace(/^State/, '')
          .toLowerCase()}, leader ${s.leader === '0' ? 'none known' : s.leader}, term ${s.term}, commit ${s.commit}, applied ${s.applied}`,
      ];
      if (Array.isArray(s.voters)) lines.push(`voters: ${(s.voters as unknown[]).join(', ')}`);
      if (Array.isArray(s.learners) && s.learners.length > 0) lines.push(`learners: ${(s.learners as unknown[]).join(', ')}`);
      for (const p of (s.peers as Record<string, unknown>[] | undefined) ?? []) {
        lines.push(`  peer ${p.id} ${p.url}: ${p.active === true ? `reachable since ${p.since}` : 'unreachable'}`);
      }
      io.stdout(`${lines.join('\n')}\n`);
      return 0;
    }
    case 'members': {
      const r = await request(cfg, 'GET', '/v1/members');
      if (r.status !== 200) throw failed(cfg, r);
      if (cfg.json) {
        io.stdout(`${r.body.toString('utf8')}\n`);
        return 0;
      }
      const rows = memberRows(r.json().members);
      io.stdout(`${table([['ID', 'PEER URL', 'ROLE', 'STATUS'], ...rows.map((m) => [m.id, m.peerUrl, m.role, m.started])])}\n`);
      return 0;
    }
    case 'member add': {
      const body = JSON.stringify({ id: a0, peerUrl: a1, ...(cfg.learner ? { learner: true } : {}) });
      const r = await request(cfg, 'POST', '/v1/members', body);
      if (r.status !== 201) throw failed(cfg, r);
      const j = r.json();
      io.stdout(`added ${cfg.learner ? 'learner' : 'member'} ${a0} (${a1})\n`);
      if (typeof j.start === 'string') {
        io.stdout(`start it now (the cluster counts on it from now on):\n  ${j.start}\n`);
      }
      return 0;
    }
    case 'member remove': {
      const r = await request(cfg, 'DELETE', `/v1/members/${encodeURIComponent(a0)}`);
      if (r.status !== 200) throw failed(cfg, r);
      io.stdout(`removed member ${a0}\n`);
      return 0;
    }
  }
}
