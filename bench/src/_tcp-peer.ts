/**
 * The raw-TCP baseline of `pnpm bench http`, one side per process:
 * `sink <total>` listens on 127.0.0.1:0, prints `{port}`, counts bytes and
 * prints `{firstAt, lastAt, bytes}` once `total` arrived, then exits;
 * `source <port> <total> <chunk>` connects and writes `total` bytes in
 * `chunk`-byte writes (waiting out backpressure), then exits.
 */
import * as net from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);
const now = (): number => performance.timeOrigin + performance.now();

if (mode === 'sink') {
  const total = Number(a);
  let bytes = 0;
  let firstAt = 0;
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      if (bytes === 0) firstAt = now();
      bytes += d.length;
      if (bytes >= total) {
        process.stdout.write(`${JSON.stringify({ firstAt, lastAt: now(), bytes })}\n`);
        sock.destroy();
        server.close();
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`);
  });
} else if (mode === 'source') {
  const total = Number(b);
  const chunk = Buffer.alloc(Number(c), 0x61);
  const sock = net.connect({ port: Number(a), host: '127.0.0.1', noDelay: true }, () => {
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!sock.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end();
    };
    pump();
  });
  sock.on('error', () => process.exit(1));
}
