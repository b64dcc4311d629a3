/**
 * The command line as a person meets it: `--help` on every command (exit 0, that command's usage),
 * `--version`, and usage errors that echo the bad value (exit 2, pointing at the command's help).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLI_MAIN } from './member-process.js';

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('raftwire --help and --version', () => {
  const topics: [string[], RegExp][] = [
    [['member'], /^usage: raftwire member --id/],
    [['cluster'], /^usage: raftwire cluster/],
    [['etcd-member'], /^usage: raftwire etcd-member/],
    [['wal', 'repair'], /^usage: raftwire wal repair/],
    [['wal'], /^usage: raftwire wal repair/],
    [['put'], /^usage: raftwire put <key> <value>/],
    [['get'], /^usage: raftwire get <key>/],
    [['del'], /^usage: raftwire del <key>/],
    [['status'], /^usage: raftwire status/],
    [['members'], /^usage: raftwire members/],
    [['member', 'add'], /^usage: raftwire member add <id> <peerUrl>/],
    [['member', 'remove'], /^usage: raftwire member remove <id>/],
  ];
  it.each(topics)('raftwire %j --help prints that usage and exits 0', (words, want) => {
    for (const flag of ['--help', '-h']) {
      const r = cli(...words, flag);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(want);
    }
  });

  it('--help after other flags still helps; bare raftwire and --help print the overview', () => {
    expect(cli('cluster', '--size', '3', '--help').stdout).toMatch(/^usage: raftwire cluster/);
    for (const args of [[], ['--help']]) {
      const r = cli(...args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/raftwire <command> --help/);
    }
  });

  it('--version prints the package version', () => {
    const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    const r = cli('--version');
    expect([r.code, r.stdout]).toEqual([0, `${version}\n`]);
  });
});

describe('usage errors echo the bad value', () => {
  const cases: [string[], string, string][] = [
    [['cluster', '--size', 'abc'], '--size: "abc" is not', 'raftwire cluster --help'],
    [['cluster', '--base-port', '80'], '--base-port: "80" is not', 'raftwire cluster --help'],
    [['cluster', '--log-level', 'loud'], '--log-level: "loud" is not', 'raftwire cluster --help'],
    [['cluster', '--log-format', 'xml'], '--log-format: "xml" is not', 'raftwire cluster --help'],
    [['cluster', '--runtimes', 'java'], '"java"', 'raftwire cluster --help'],
    [['member', '--id', 'XYZ', '--listen', 'http://127.0.0.1:1', '--api', 'http://127.0.0.1:2'], '"XYZ"', 'raftwire member --help'],
    [
      ['member', '--id', '1', '--listen', 'ftp://127.0.0.1:1', '--api', 'http://127.0.0.1:2'],
      '"ftp://127.0.0.1:1"',
      'raftwire member --help',
    ],
    [['put', 'k'], 'got "k"', 'raftwire put --help'],
    [['get', 'k', '--timeout-ms', 'soon'], '--timeout-ms: "soon"', 'raftwire get --help'],
    [['get', 'k', '--endpoint', 'nope'], '--endpoint: "nope"', 'raftwire get --help'],
    [['get', 'k', '--endpoint', 'http://127.0.0.1:2381', '--pki', '/nonexistent'], '"http://127.0.0.1:2381"', 'raftwire get --help'],
    [['get', 'k', '--pki', '/nonexistent-raftwire'], '/nonexistent-raftwire/ca.crt', 'raftwire get --help'],
    [['member', 'add', '4'], 'got "4"', 'raftwire member add --help'],
    [['frobnicate'], '"frobnicate"', 'raftwire --help'],
    [['cluster', '--bogus'], '--bogus', 'raftwire cluster --help'],
  ];
  it.each(cases)('raftwire %j → exit 2 naming %s', (args, echo, help) => {
    const r = cli(...args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(echo);
    expect(r.stderr).toContain(`(see ${help})`);
    expect(r.stdout).toBe('');
  });
});
