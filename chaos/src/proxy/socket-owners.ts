/**
 * Tells which of our child processes opened an accepted loopback connection,
 * from the kernel's socket table (Linux /proc): the accepted socket's peer
 * address is the dialer's local address; `/proc/net/tcp` maps that address
 * to a socket inode, and `/proc/<pid>/fd` shows which process holds it.
 *
 * Works whatever URL the dialer used and whatever it sends (TLS included),
 * costs a few ms per new connection (lookups arriving together share one
 * read of the table), and needs nothing from the processes themselves.
 * IPv4 only (members listen on 127.0.0.1).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import type { Socket } from 'node:net';

/** `/proc/net/tcp`'s form of an IPv4 address and port: `0100007F:1F90` (address bytes as a little-endian word). */
export function procTcpAddress(ip: string, port: number): string {
  const b = ip.split('.').map(Number);
  if (b.length !== 4 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
  return `${hex(b[3] as number)}${hex(b[2] as number)}${hex(b[1] as number)}${hex(b[0] as number)}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

function plainIpv4(address: string | undefined): string | null {
  if (!address) return null;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^\d+\.\d+\.\d+\.\d+$/.test(a) ? a : null;
}

export class ProcSocketOwners {
  private readonly owners = new Map<number, string>();
  private inodeOwner = new Map<string, number>();
  private batch: Promise<string> | null = null;
  private scan: { started: number; done: Promise<void> } | null = null;

  /** Names the process `pid` (its connections resolve to `name`). */
  register(pid: number, name: string): void {
    this.owners.set(pid, name);
  }

  unregister(pid: number): void {
    this.owners.delete(pid);
  }

  /** A {@link DialerResolver}: the registered name of the process that dialled `socket`. */
  readonly resolve = async (socket: Socket): Promise<string | null> => {
    const since = performance.now();
    const peerIp = plainIpv4(socket.remoteAddress);
    const localIp = plainIpv4(socket.localAddress);
    if (!peerIp || !localIp || socket.remotePort === undefined || socket.localPort === undefined) return null;
    const local = procTcpAddress(peerIp, socket.remotePort);
    const remote = procTcpAddress(localIp, socket.localPort);
    // The table is generated as it is read, so a line can be missed while sockets come and go: look again.
    let inode: string | null = null;
    for (let attempt = 0; attempt < 4 && inode === null; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 5 * attempt));
      inode = findInode(await this.readTable(), local, remote);
    }
    // Inode 0: the dialer already closed its end (nobody holds it any more).
    if (inode === null || inode === '0') return null;
    let pid = this.inodeOwner.get(inode);
    if (pid === undefined || !this.owners.has(pid)) {
      await this.scanSince(since);
      pid = this.inodeOwner.get(inode);
    }
    return pid === undefined ? null : (this.owners.get(pid) ?? null);
  };

  /** One read of the socket table for every lookup of this turn of the event loop. */
  private readTable(): Promise<string> {
    if (!this.batch) {
      this.batch = new Promise<void>((r) => setImmediate(r))
        .then(() => readFile('/proc/net/tcp', 'utf8'))
        .finally(() => {
          this.batch = null;
        });
    }
    return this.batch;
  }

  /** Waits for a scan of the processes' descriptors that began at or after `since` (one at a time, shared). */
  private async scanSince(since: number): Promise<void> {
    for (;;) {
      const cur = this.scan;
      if (cur && cur.started >= since) return cur.done;
      if (cur) {
        await cur.done;
        continue;
      }
      const done = this.rescan().finally(() => {
        if (this.scan?.done === done) this.scan = null;
      });
      this.scan = { started: performance.now(), done };
      return done;
    }
  }

  private async rescan(): Promise<void> {
    const map = new Map<string, number>();
    await Promise.all(
      [...this.owners.keys()].map(async (pid) => {
        const dir = `/proc/${pid}/fd`;
        const fds = await readdir(dir).catch(() => [] as string[]);
        await Promise.all(
          fds.map(async (fd) => {
            const target = await readlink(`${dir}/${fd}`).catch(() => '');
            const m = /^socket:\[(\d+)\]$/.exec(target);
            if (m) map.set(m[1] as string, pid);
          }),
        );
      }),
    );
    this.inodeOwner = map;
  }
}

/** The inode of the socket with this local and remote address in a /proc/net/tcp table, or null. */
function findInode(table: string, local: string, remote: string): string | null {
  const at = table.indexOf(` ${local} ${remote} `);
  if (at < 0) return null;
  const end = table.indexOf('\n', at);
  // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
  const f = table
    .slice(at, end < 0 ? undefined : end)
    .trim()
    .split(/\s+/);
  return f[8] ?? null;
}
