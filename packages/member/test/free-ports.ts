import { createServer, type Server } from 'node:net';

/** A port p such that p .. p+count-1 are all free on 127.0.0.1 (each bound, then released). */
export async function freeConsecutivePorts(count: number): Promise<number> {
  const listen = (port: number) =>
    new Promise<Server | null>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers = await Promise.all(Array.from({ length: count }, (_, i) => listen(base + i)));
    await Promise.all(servers.map((s) => (s ? new Promise((r) => s.close(r)) : null)));
    if (servers.every((s) => s !== null)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
