// Free TCP ports on 127.0.0.1 for processes a test starts and that bind them later.
//
// A port from listen(0), or any port inside the kernel's ephemeral range, can be handed to an
// outgoing connection (a test run opens thousands) between the moment it is found free and the
// moment the member binds it: the member then fails with "cannot listen". Ports here come from
// below that range, so only another listener can take them, and never the same one twice in a
// process.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port handed out: above the well-known and most registered defaults (2379, 2380, 8080, …). */
export const MIN_PORT = 10_000;

/** The kernel's range for the local ports of outgoing connections (Linux; the usual default elsewhere). */
export function ephemeralRange() {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi && lo <= hi) return [lo, hi];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

/**
 * The first port of a block of `count` consecutive ports for a random `r` in [0, 1): the whole
 * block lies in [MIN_PORT, ephemeralLow), aligned to `count`.
 */
export function portBlockCandidate(count, r, ephemeralLow = ephemeralRange()[0]) {
  const blocks = Math.floor((ephemeralLow - MIN_PORT) / count);
  if (blocks < 1) throw new Error(`no room for ${count} ports between ${MIN_PORT} and the ephemeral range at ${ephemeralLow}`);
  return MIN_PORT + count * Math.floor(r * blocks);
}

function listenable(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const handedOut = new Set();

/** `count` consecutive free ports below the ephemeral range; resolves with the first. */
export async function freePortBlock(count) {
  for (let tries = 0; tries < 100; tries++) {
    const base = portBlockCandidate(count, Math.random());
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if (ports.some((p) => handedOut.has(p))) continue;
    for (const p of ports) handedOut.add(p); // claimed before the await: concurrent callers never overlap
    if ((await Promise.all(ports.map(listenable))).every(Boolean)) return base;
    for (const p of ports) handedOut.delete(p);
  }
  throw new Error(`no ${count} consecutive free ports found below the ephemeral range`);
}

/** One free port below the ephemeral range. */
export function freePort() {
  return freePortBlock(1);
}
