/**
 * Usage text of the `raftwire` command and each subcommand: `raftwire <command> --help` prints
 * that command's text (exit 0); a bad command line names the bad value and points at it.
 */

const CLIENT_FLAGS = `client flags (every client command):
  --endpoint <url>          a member's client API (default http://127.0.0.1:2381, member 1 of
                            \`raftwire cluster\`; https://127.0.0.1:2381 with --pki)
  --pki <dir>               <dir>/ca.crt and <dir>/api-token, as \`raftwire cluster\` writes them
                            in <data-dir>/pki (needs an https:// endpoint)
  --cacert <file>           CA certificate (PEM) to trust for an https:// endpoint
  --token-file <file>       bearer token for the API (sent as Authorization: Bearer; https only)
  --timeout-ms <n>          give up after n ms (default 10000)
`;

export const USAGE = {
  raftwire: `raftwire — run Raft members over the raftwire transport (HTTP), and talk to them

usage: raftwire <command> [flags]     raftwire <command> --help     raftwire --version

servers:
  cluster                   run N members on 127.0.0.1 (default 3) until Ctrl-C
  member                    run one member
  etcd-member               run a raft-only member of an etcd 3.4 cluster
  cert ca|member|api|token  make a CA, member and API certificates, an API token
  wal repair                examine (and with --truncate, repair) a stopped member's WAL

clients (against a member's API; --endpoint, default http://127.0.0.1:2381):
  put <key> <value>         write a value
  get <key>                 read a value (linearizable), printed as it was stored
  del <key>                 delete a key
  status                    the member's view: leader, term, indexes, voters
  members                   list the members: peer URL, voter or learner, reachable or not
  member add <id> <url>     add a member (then start it with the command printed)
  member remove <id>        remove a member

client API (JSON over HTTP): PUT/GET/DELETE /v1/kv/:key, GET /v1/status, GET /v1/members,
POST /v1/members {"id","peerUrl"}, DELETE /v1/members/:id, GET /metrics (Prometheus).

exit codes: 0 done (servers: stopped by SIGINT/SIGTERM), 1 failed, 2 bad command line,
3 (member) removed from the cluster, 4 (wal repair) the WAL is damaged and was left as it is.
`,
  cluster: `usage: raftwire cluster [--size N] [--base-port P] [--data-dir DIR] [--insecure]
                        [--runtimes node,deno,bun] [--log-level L] [--log-format F]

Runs N members (default 3) on 127.0.0.1 as child processes; member i has ID i, peer port
P+2(i-1) and API port P+2(i-1)+1 (P default 2380: member 1's API is http://127.0.0.1:2381).
Each log line is prefixed with [id]. Ctrl-C stops them all (exit 0).

  --size <n>                members, 1 to 9 (default 3)
  --base-port <p>           first port (default 2380)
  --data-dir <dir>          member i keeps its WAL and snapshots in <dir>/member-<i>
                            (in memory when omitted)
  --insecure                plain http between members and on the API, no authentication
                            (default: mutual TLS between members, https + a bearer token on the
                            API, with a CA, certificates and token made in <data-dir>/pki)
  --runtimes <list>         run the members on node, deno or bun in turn (default: this runtime)
  --log-level <level>       trace, debug, info (default), warn, error, silent
  --log-format <fmt>        text (default) or json (pino-shaped)
`,
  member: `usage: raftwire member --id <hex> --listen <url> --api <url> --peer <hex>=<url> ...
                       (--peer-cert-file F --peer-key-file F --peer-trusted-ca-file F --api-token-file F | --insecure) [flags]

Runs one member until SIGINT/SIGTERM (exit 0), removal (exit 3) or a fatal error (exit 1).

  --id <hex>                this member's ID (lowercase hex, not 0)
  --listen <url>            peer URL to serve the raft protocol on, e.g. http://127.0.0.1:2380
  --api <url>               client API URL, e.g. http://127.0.0.1:2381
  --peer <hex>=<url>        another member of the initial cluster (once per member)
  --peer-cert-file <f>      this member's certificate (CN and SAN URI name its ID; raftwire cert member)
  --peer-key-file <f>       its private key
  --peer-trusted-ca-file <f>  the CA peers' certificates must chain to (mutual TLS; https:// URLs)
  --api-token-file <f>      the API's bearer token (raftwire cert token); the API serves https
  --api-cert-file <f>, --api-key-file <f>  the API's certificate (default: the peer certificate)
  --insecure                instead of all the above: plain http between members and on the API,
                            no authentication (for a network only members and their clients reach)
  --join                    join an existing cluster (add it first: raftwire member add)
  --data-dir <dir>          durable storage (WAL + snapshots); in memory when omitted
  --cluster-id <hex>        cluster ID, the same on every member (default: derived from the initial
                            members and --initial-cluster-token, as etcd does; a --join member learns
                            it from the members it contacts; kept in <data-dir>/cluster-id.json)
  --initial-cluster-token <t>  mixed into the derived cluster ID (default raftwire-cluster): two
                            clusters with different tokens refuse each other's messages
  --log-level <level>       trace, debug, info (default), warn, error, silent
  --log-format <fmt>        text (default, one readable line per event) or json (pino-shaped)
  --tick-ms <n>             ms per raft tick (default 100); --election-ticks <n> (default 10)
  --snapshot-entries <n>    snapshot every n applied entries (default 10000)
  --snapshot-catch-up-entries <n>  entries kept behind a snapshot (default 5000)
  --stop-on-stdin-close     stop, as on SIGTERM, when standard input ends (raftwire cluster passes
                            it, so its members stop when it is gone, even when it was killed)

See also: raftwire member add --help, raftwire member remove --help.
`,
  'etcd-member': `usage: raftwire etcd-member --id <hex> --name <name> --listen <url> --peers <url>[,<url>...]
                            --data-dir <dir> (--insecure | --peer-cert-file F --peer-key-file F --peer-trusted-ca-file F)

A raft-only member of an etcd 3.4 cluster (votes and replicates, never leads); add it first with
\`etcdctl member add <name> --peer-urls=<url>\` and pass the hex ID that printed. See docs/etcd.md.

  --peers <urls>            peer URLs of etcd members, comma-separated (the cluster is learned from them)
  --insecure                the etcd cluster's peers use plain http
  --peer-cert-file, --peer-key-file, --peer-trusted-ca-file   peer TLS, as etcd's flags of the same names
  --heartbeat-interval <ms>, --election-timeout <ms>           as the etcd cluster's (default 100, 1000)
  --compact-entries <n>     compact the log every n applied entries (default 10000)
  --log-level <level>, --log-format <fmt>                      as for raftwire member
`,
  'wal repair': `usage: raftwire wal repair --data-dir <dir> [--truncate]

Examines a stopped member's WAL and names any damage (file, byte offset); only with --truncate
does it keep the intact records and drop the rest (the whole file is copied beside it first).
Exit 0 intact or repaired, 4 damaged and left as it is.
`,
  cert: `usage: raftwire cert ca|member|api|token --out <dir|file> [flags]

Makes the TLS material of a secure cluster (ECDSA P-256, with @peculiar/x509; no openssl).
\`raftwire cluster\` makes all of it by itself in <data-dir>/pki; these are for members you run
with \`raftwire member\`. An existing file is never overwritten.

  raftwire cert ca --out <dir>                              <dir>/ca.crt, <dir>/ca.key
  raftwire cert member --ca-dir <dir> --id <hex> --out <dir> [--host H]...
                                                            <dir>/member-<id>.crt and .key: CN=<id>,
                                                            SAN urn:raftwire:member:<id> + the hosts
  raftwire cert api --ca-dir <dir> --out <dir> [--host H]... <dir>/api.crt, <dir>/api.key
  raftwire cert token --out <file>                          a random API bearer token (mode 0600)

  --host <ip|name>          a host in the certificate's SAN (repeat; default 127.0.0.1)
  --days <n>                validity (default 3650 for a CA, 825 otherwise)
`,
  put: `usage: raftwire put <key> <value> [client flags]

Writes <value> (its UTF-8 bytes) under <key> and prints OK once the write is committed.

${CLIENT_FLAGS}`,
  get: `usage: raftwire get <key> [--raw] [client flags]

Reads <key> linearizably and prints its value exactly as stored (any bytes), then a newline;
with --raw, the bytes alone. Exit 1 with a message on stderr when the key does not exist.

  --raw                     no newline after the value

${CLIENT_FLAGS}`,
  del: `usage: raftwire del <key> [client flags]

Deletes <key>; prints 1 if it existed, 0 if not.

${CLIENT_FLAGS}`,
  status: `usage: raftwire status [--json] [client flags]

The member's view: its ID and state, the leader, term, commit and applied indexes, the voters
and learners, and which peers it reaches.

  --json                    the API's JSON answer as it is

${CLIENT_FLAGS}`,
  members: `usage: raftwire members [--json] [client flags]

Lists the members: ID, peer URL, voter or learner, and whether the member asked reaches it
(started) or not.

  --json                    the API's JSON answer as it is

${CLIENT_FLAGS}`,
  'member add': `usage: raftwire member add <id> <peerUrl> [--learner] [client flags]

Adds a member (a voter, or a learner with --learner) and prints the command that starts it:
a new member must be started with --join before the cluster can count on it.

  --learner                 add a non-voting learner (promote it once it has caught up)

${CLIENT_FLAGS}`,
  'member remove': `usage: raftwire member remove <id> [client flags]

Removes a member; the removed member exits by itself (exit 3).

${CLIENT_FLAGS}`,
} as const;

export type UsageTopic = keyof typeof USAGE;

/** The help topic of a command line (`member add ...` → 'member add'), or null for an unknown command. */
export function usageTopic(argv: readonly string[]): UsageTopic | null {
  const [a, b] = argv;
  if (a === undefined || a.startsWith('-')) return 'raftwire';
  if (a === 'member' && (b === 'add' || b === 'remove')) return `member ${b}`;
  if (a === 'wal') return 'wal repair';
  if (a === 'cert') return 'cert';
  return Object.hasOwn(USAGE, a) && a !== 'raftwire' ? (a as UsageTopic) : null;
}

/** Whether the arguments ask for help (`--help` or `-h` before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}
