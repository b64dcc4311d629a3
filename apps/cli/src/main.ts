#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseClusterArgs, runCluster } from './cluster.js';
import { runEtcdMember } from './etcd-member.js';
import { parseEtcdMemberArgs } from './etcd-member-args.js';
import { parseMemberArgs } from './member-args.js';
import { runMember } from './member.js';
import { UsageError } from './usage-error.js';
import { runWalCommand } from './wal-command.js';

const HELP = `raftwire — run Raft members over the raftwire transport (HTTP)

usage:
  raftwire member --id <hex> --listen <url> --api <url> --peer <hex>=<url> ... [options]
  raftwire cluster [--size N] [--base-port P] [--data-dir DIR] [--runtimes node,deno,bun] [--log-level L] [--log-format F]
  raftwire etcd-member --id <hex> --name <name> --listen <url> --peers <url>[,<url>...] --data-dir <dir>
                       (--insecure | --peer-cert-file F --peer-key-file F --peer-trusted-ca-file F)
  raftwire wal repair --data-dir <dir> [--truncate]
  raftwire --help | --version

member options:
  --id <hex>                this member's ID (lowercase hex, not 0)
  --listen <url>            peer URL to serve the raft protocol on, e.g. http://127.0.0.1:2380
  --api <url>               client API URL, e.g. http://127.0.0.1:2381
  --peer <hex>=<url>        another member of the initial cluster (once per member)
  --insecure                plain http between members and on the API, no authentication
                            (today the only mode; TLS flags will make it an explicit choice)
  --join                    join an existing cluster (add it first: POST /v1/members on a member)
  --data-dir <dir>          durable storage (WAL + snapshots); in memory when omitted
  --cluster-id <hex>        cluster ID, the same on every member (default 7261667477697265)
  --log-level <level>       trace, debug, info (default), warn, error, silent
  --log-format <fmt>        text (default, one readable line per event) or json (pino-shaped)
  --tick-ms <n>             ms per raft tick (default 100); --election-ticks <n> (default 10)
  --snapshot-entries <n>    snapshot every n applied entries (default 10000)
  --snapshot-catch-up-entries <n>  entries kept behind a snapshot (default 5000)

etcd-member: a raft-only member of an etcd 3.4 cluster (votes and replicates, never leads); add it
first with \`etcdctl member add <name> --peer-urls=<url>\` and pass the hex ID that printed. See docs/etcd.md.
  --peers <urls>            peer URLs of etcd members, comma-separated (the cluster is learned from them)
  --insecure                the etcd cluster's peers use plain http
  --peer-cert-file, --peer-key-file, --peer-trusted-ca-file   peer TLS, as etcd's flags of the same names
  --heartbeat-interval <ms>, --election-timeout <ms>           as the etcd cluster's (default 100, 1000)
  --compact-entries <n>     compact the log every n applied entries (default 10000)

wal repair: examines a stopped member's WAL and names any damage (file, byte offset); only
with --truncate does it keep the intact records and drop the rest (the file is copied first).

cluster: runs N members (default 3) on 127.0.0.1 as child processes; member i has ID i,
peer port P+2(i-1) and API port P+2(i-1)+1 (P default 2380). Ctrl-C stops them all.
--runtimes runs the members on Node, Deno or Bun in turn (default: the runtime running this).
Any member runs on any of them: \`deno run -A main.js member ...\`, \`bun main.js member ...\`.

client API (JSON over HTTP): PUT/GET/DELETE /v1/kv/:key, GET /v1/status,
POST /v1/members {"id","peerUrl"}, DELETE /v1/members/:id.

exit codes: 0 stopped by SIGINT/SIGTERM, 1 fatal error, 2 bad command line,
3 this member was removed from the cluster, 4 (wal repair) the WAL is damaged and was left as it is.
`;

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (cmd === 'member') return runMemberCommand(argv.slice(1));
  if (cmd === 'cluster') return runCluster(parseClusterArgs(argv.slice(1)));
  if (cmd === 'etcd-member') return runEtcdMember(parseEtcdMemberArgs(argv.slice(1)));
  if (cmd === 'wal') return runWalCommand(argv.slice(1), (line) => process.stdout.write(`${line}\n`));
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    allowPositionals: true,
    strict: false,
  });
  if (values.version) {
    process.stdout.write(`${cliVersion()}\n`);
    return 0;
  }
  if (values.help || argv.length === 0) {
    process.stdout.write(HELP);
    return 0;
  }
  throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
}

/** The version in the CLI's package.json (beside dist/ in the workspace and in the published package). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function runMemberCommand(argv: string[]): Promise<number> {
  return runMember(parseMemberArgs(argv));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`raftwire: ${err.message}\n(see raftwire --help)\n`);
      process.exit(2);
    }
    process.stderr.write(`raftwire: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
