/**
 * One `raftwire member` child process: spawned with the CLI's own flags, its
 * log lines appended to a file (and the last ones kept for evidence), its exit
 * recorded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';

export interface MemberSpawn {
  /** Path of the CLI's `main.js`. */
  cliMain: string;
  id: string;
  listenUrl: string;
  apiUrl: string;
  /** Other members: `id=url`. */
  peers: string[];
  dataDir: string;
  join: boolean;
  /** Flags added to every member (timing, log level; TLS and tokens later). */
  extraArgs: readonly string[];
  logFile: string;
}

export interface MemberExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** `performance.now()` at exit. */
  at: number;
}

const TAIL_LINES = 200;

export class MemberProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<MemberExit>;
  exit: MemberExit | null = null;
  /** The last log lines. */
  readonly tail: string[] = [];
  private readonly log: WriteStream;

  constructor(readonly spec: MemberSpawn) {
    if (!existsSync(spec.cliMain)) throw new Error(`${spec.cliMain} is missing: run \`pnpm run build\` first`);
    const args = [spec.cliMain, 'member', '--id', spec.id, '--listen', spec.listenUrl, '--api', spec.apiUrl];
    for (const p of spec.peers) args.push('--peer', p);
    args.push('--data-dir', spec.dataDir);
    if (spec.join) args.push('--join');
    args.push(...spec.extraArgs);
    this.log = createWriteStream(spec.logFile, { flags: 'a' });
    this.log.write(`--- ${new Date().toISOString()} start: node ${args.join(' ')}\n`);
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.child.pid ?? -1;
    let buf = '';
    const onData = (d: Buffer): void => {
      this.log.write(d);
      buf += d.toString('utf8');
      let i = buf.indexOf('\n');
      while (i >= 0) {
        this.tail.push(buf.slice(0, i));
        if (this.tail.length > TAIL_LINES) this.tail.shift();
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal, at: performance.now() };
        this.log.end(`--- ${new Date().toISOString()} exit: ${signal ?? `code ${code}`}\n`);
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exit === null) this.child.kill(sig);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<MemberExit> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    return this.exited;
  }
}
