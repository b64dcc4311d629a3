#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { CERT_COMMANDS, type CertCommand, runCertCommand } from './cert-command.js';
import { CLIENT_COMMANDS, type ClientCommand, parseClientArgs, runClient } from './client.js';
import { parseClusterArgs, runCluster } from './cluster.js';
import { runEtcdMember } from './etcd-member.js';
import { parseEtcdMemberArgs } from './etcd-member-args.js';
import { parseMemberArgs } from './member-args.js';
import { runMember } from './member.js';
import { USAGE, type UsageTopic, usageTopic, wantsHelp } from './usage.js';
import { UsageError } from './usage-error.js';
import { runWalCommand } from './wal-command.js';

/** The version in the CLI's package.json (beside dist/ in the workspace and in the published package). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

const io = {
  stdout: (data: string | Uint8Array) => process.stdout.write(data),
  stderr: (text: string) => process.stderr.write(text),
};

async function main(argv: string[]): Promise<number> {
  const topic = usageTopic(argv);
  if (argv.length === 0 || (topic !== null && wantsHelp(argv))) {
    process.stdout.write(USAGE[topic ?? 'raftwire']);
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version') {
    process.stdout.write(`${cliVersion()}\n`);
    return 0;
  }
  if (topic === null) throw new UsageError(`unknown command ${JSON.stringify(argv[0])}`);
  if ((CLIENT_COMMANDS as readonly string[]).includes(topic)) {
    const words = topic.split(' ').length;
    return runClient(parseClientArgs(topic as ClientCommand, argv.slice(words)), io);
  }
  switch (topic) {
    case 'member':
      return runMember(parseMemberArgs(argv.slice(1)));
    case 'cluster':
      return runCluster(parseClusterArgs(argv.slice(1)));
    case 'etcd-member':
      return runEtcdMember(parseEtcdMemberArgs(argv.slice(1)));
    case 'cert': {
      const cmd = `cert ${argv[1] ?? ''}`;
      if (!(CERT_COMMANDS as readonly string[]).includes(cmd)) {
        throw new UsageError(`want cert ca, cert member, cert api or cert token, not ${JSON.stringify(argv.slice(0, 2).join(' '))}`);
      }
      return runCertCommand(cmd as CertCommand, argv.slice(2), (line) => process.stdout.write(`${line}\n`));
    }
    case 'wal repair':
      return runWalCommand(argv.slice(1), (line) => process.stdout.write(`${line}\n`));
    default:
      throw new UsageError(`unknown option ${JSON.stringify(argv[0])}`);
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      const topic: UsageTopic = usageTopic(argv) ?? 'raftwire';
      const name = topic === 'raftwire' ? 'raftwire' : `raftwire ${topic}`;
      process.stderr.write(`${name}: ${err.message}\n(see ${name} --help)\n`);
      process.exit(2);
    }
    process.stderr.write(`raftwire: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
