#!/usr/bin/env node
import { parseArgs } from 'node:util';

const HELP = `raftwire — run Raft members over the raftwire transport

usage:
  raftwire member --id <hex> --listen <url> --api <url> --peer <hex>=<url> ... [--data-dir <dir>] [--cluster-id <hex>] [--join]
  raftwire cluster --size N [--base-port P]
  raftwire --help

(member and cluster arrive with the raft package; see the README)
`;

const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: false });
if (values.help || process.argv.length <= 2) {
  process.stdout.write(HELP);
  process.exit(0);
}
process.stderr.write(`raftwire: unknown command ${JSON.stringify(process.argv[2])}\n\n${HELP}`);
process.exit(2);
