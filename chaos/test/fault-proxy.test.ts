import { spawn } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { SeededRand } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../src/proxy/fault-proxy.js';
import { ProcSocketOwners, procTcpAddress } from '../src/proxy/socket-owners.js';

/** Dialers named by the local port of the test's own client sockets. */
class PortNames {
  private readonly names = new Map<number, string>();
  private readonly waiting = new Map<number, (n: string) => void>();
  add(port: number, name: string): void {
    this.names.set(port, name);
    this.waiting.get(port)?.(name);
  }
  readonly resolve = (s: Socket): Promise<string | null> => {
    const port = s.remotePort as number;
    const known = this.names.get(port);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      this.waiting.set(port, resolve);
      setTimeout(() => resolve(null), 2000);
    });
  };
}

interface Upstream {
  server: Server;
  port: number;
  /** Bytes each accepted connection received, by connection. */
  received: Buffer[][];
  sockets: Socket[];
}

/** A member stand-in: records what arrives and answers `pong:<data>` to every chunk when `echo`. */
async function upstream(echo: boolean): Promise<Upstream> {
  const u: Upstream = { server: createServer(), port: 0, received: [], sockets: [] };
  u.server.on('connection', (s) => {
    const got: Buffer[] = [];
    u.received.push(got);
    u.sockets.push(s);
    s.on('error', () => {});
    s.on('data', (d: Buffer) => {
      got.push(d);
      if (echo) s.write(Buffer.concat([Buffer.from('pong:'), d]));
    });
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
  u.port = (u.server.address() as { port: number }).port;
  return u;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(names: string[]) {
  const dialers = new PortNames();
  const proxy = new FaultProxy({
    resolveDialer: dialers.resolve,
    random: (() => {
      const r = new SeededRand(42);
      return () => r.next();
    })(),
  });
  const ups = new Map<string, Upstream>();
  for (const n of names) {
    const u = await upstream(true);
    ups.set(n, u);
    await proxy.addMember(n, u.port);
    cleanups.push(() => new Promise<void>((r) => u.server.close(() => r())));
  }
  cleanups.push(() => proxy.close());
  /** `from` dials `to` through the proxy. */
  const dial = async (from: string, to: string): Promise<Socket> => {
    const s = connect({ host: '127.0.0.1', port: proxy.portOf(to) });
    s.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => {
        dialers.add(s.localPort as number, from);
        resolve();
      });
      s.once('error', reject);
    });
    cleanups.push(() => {
      s.destroy();
    });
    return s;
  };
  return { proxy, ups, dial };
}

function nextData(s: Socket, ms: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off('data', on);
      resolve(null);
    }, ms);
    const on = (d: Buffer) => {
      clearTimeout(t);
      resolve(d);
    };
    s.once('data', on);
  });
}

function closed(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve('destroyed');
    let err = '';
    s.once('error', (e: NodeJS.ErrnoException) => {
      err = e.code ?? e.message;
    });
    s.once('close', () => resolve(err || 'closed'));
  });
}

async function roundTrip(s: Socket, text: string, ms = 3000): Promise<{ reply: string | null; ms: number }> {
  const t0 = performance.now();
  s.write(text);
  let got = '';
  const want = `pong:${text}`;
  while (got.length < want.length) {
    const d = await nextData(s, ms);
    if (d === null) return { reply: got || null, ms: performance.now() - t0 };
    got += d.toString();
  }
  return { reply: got, ms: performance.now() - t0 };
}

describe('fault proxy', () => {
  it('forwards both ways when healthy, and names the dialer of each connection', async () => {
    const { proxy, dial } = await setup(['a', 'b']);
    const s = await dial('a', 'b');
    expect((await roundTrip(s, 'hello')).reply).toBe('pong:hello');
    for (let i = 0; i < 100 && proxy.openConnections()[0]?.dialer === ''; i++) await new Promise((r) => setTimeout(r, 10));
    expect(proxy.openConnections()).toEqual([{ dialer: 'a', listener: 'b' }]);
  });

  it('names slow-to-identify dialers without delaying healthy links, and never lets an unnamed one cross a fault', async () => {
    const slow = new PortNames();
    const proxy = new FaultProxy({
      resolveDialer: (sock) => new Promise((r) => setTimeout(() => void slow.resolve(sock).then(r), 1500)),
      random: Math.random,
    });
    cleanups.push(() => proxy.close());
    const up = await upstream(true);
    cleanups.push(() => new Promise<void>((r) => up.server.close(() => r())));
    const port = await proxy.addMember('b', up.port);
    const dial = async (name: string) => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => {});
      await new Promise<void>((r) => s.once('connect', () => r()));
      slow.add(s.localPort as number, name);
      cleanups.push(() => {
        s.destroy();
      });
      return s;
    };
    // Healthy: the answer does not wait for the 1.5 s identification.
    const fast = await dial('a');
    const r = await roundTrip(fast, 'quick');
    expect(r.reply).toBe('pong:quick');
    expect(r.ms).toBeLessThan(1500);
    while (proxy.openConnections()[0]?.dialer !== 'a') await new Promise((res) => setTimeout(res, 10));
    // A fault on the listener while a dialer is still unnamed resets that connection.
    const unnamed = await dial('c');
    const reset = closed(unnamed);
    proxy.setLink('c', 'b', { delayMs: 1 });
    expect(await reset).toBe('ECONNRESET');
    // With a fault around the listener, nothing flows before the dialer is known, then its faults apply.
    proxy.setLink('a', 'b', { blocked: true });
    const held = await dial('a');
    held.write('blocked?');
    expect(await nextData(held, 2500)).toBeNull();
    expect(proxy.openConnections().filter((c) => c.dialer === 'a')).toHaveLength(2);
    proxy.heal();
    expect((await nextData(held, 3000))?.toString()).toBe('pong:blocked?');
  });

  it('fails closed on a dialer it cannot name: such a connection is reset when a fault touches its listener, and refused while one does', async () => {
    const proxy = new FaultProxy({ resolveDialer: () => Promise.resolve(null), random: Math.random });
    cleanups.push(() => proxy.close());
    const up = await upstream(true);
    cleanups.push(() => new Promise<void>((r) => up.server.close(() => r())));
    const port = await proxy.addMember('b', up.port);
    const dial = async () => {
      const s = connect({ host: '127.0.0.1', port });
      s.on('error', () => {});
      await new Promise<void>((r) => s.once('connect', () => r()));
      cleanups.push(() => {
        s.destroy();
      });
      return s;
    };
    const s = await dial();
    expect((await roundTrip(s, 'healthy')).reply).toBe('pong:healthy');
    for (let i = 0; i < 100 && proxy.openConnections()[0]?.dialer !== '?'; i++) await new Promise((r) => setTimeout(r, 10));
    const gone = closed(s);
    proxy.setLink('a', 'b', { blocked: true });
    expect(await gone).toBe('ECONNRESET');
    // While a fault touches the listener, an unnamed dialer is reset as soon as it arrives.
    const refused = connect({ host: '127.0.0.1', port });
    cleanups.push(() => {
      refused.destroy();
    });
    expect(await closed(refused)).toBe('ECONNRESET');
  });

  it('delays each direction by its own amount, with jitter, keeping the byte order', async () => {
    const { proxy, dial, ups } = await setup(['a', 'b']);
    proxy.setLink('a', 'b', { delayMs: 150 });
    proxy.setLink('b', 'a', { delayMs: 50, jitterMs: 40 });
    const s = await dial('a', 'b');
    const r = await roundTrip(s, 'x');
    expect(r.reply).toBe('pong:x');
    expect(r.ms).toBeGreaterThanOrEqual(195);
    // 500 numbered writes under jitter arrive whole and in order.
    const upstreamGot = ups.get('b') as Upstream;
    let sent = '';
    for (let i = 0; i < 500; i++) {
      const line = `${i},`;
      sent += line;
      s.write(line);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    const deadline = Date.now() + 10_000;
    const conn = () => Buffer.concat(upstreamGot.received[0] ?? []).toString();
    while (!conn().endsWith(sent) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(conn()).toBe(`x${sent}`);
  });

  it('one-way partition a→b: a dials b (request held) and b dials a (response held); heal delivers what was held', async () => {
    const { proxy, dial, ups } = await setup(['a', 'b']);
    const ab = await dial('a', 'b'); // a's requests carry a→b data
    const ba = await dial('b', 'a'); // like a raft stream b opened to a: a's responses carry a→b data
    proxy.setLink('a', 'b', { blocked: true });
    ab.write('from-a');
    ba.write('from-b');
    // b→a data flows: a's upstream receives b's request...
    const upA = ups.get('a') as Upstream;
    const deadline = Date.now() + 3000;
    while (Buffer.concat(upA.received[0] ?? []).toString() !== 'from-b' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.concat(upA.received[0] ?? []).toString()).toBe('from-b');
    // ...but a's answer to b does not arrive, and neither does a's request to b.
    expect(await nextData(ba, 400)).toBeNull();
    expect(Buffer.concat((ups.get('b') as Upstream).received[0] ?? []).toString()).toBe('');
    proxy.heal();
    expect((await nextData(ba, 3000))?.toString()).toBe('pong:from-b');
    expect((await nextData(ab, 3000))?.toString()).toBe('pong:from-a');
  });

  it('cut: resets open connections between the pair, resets new ones, and leaves other pairs alone; heal restores', async () => {
    const { proxy, dial } = await setup(['a', 'b', 'c']);
    const ab = await dial('a', 'b');
    const ca = await dial('c', 'a');
    const abClosed = closed(ab);
    proxy.setLink('b', 'a', { cut: true });
    expect(await abClosed).toBe('ECONNRESET');
    const again = await dial('a', 'b');
    expect(await closed(again)).toBe('ECONNRESET');
    expect((await roundTrip(ca, 'still')).reply).toBe('pong:still');
    expect(proxy.linkStats().find((s) => s.from === 'a' && s.to === 'b')?.refused).toBe(1);
    proxy.heal();
    const fresh = await dial('a', 'b');
    expect((await roundTrip(fresh, 'back')).reply).toBe('pong:back');
  });

  it('slow link: 192 KiB at 128 KiB/s takes at least 1.4 s to arrive', async () => {
    const { proxy, dial, ups } = await setup(['a', 'b']);
    proxy.setLink('a', 'b', { bandwidth: 128 * 1024 });
    const s = await dial('a', 'b');
    const t0 = performance.now();
    s.write(Buffer.alloc(192 * 1024, 7));
    const up = ups.get('b') as Upstream;
    const size = () => (up.received[0] ?? []).reduce((n, b) => n + b.length, 0);
    while (size() < 192 * 1024 && performance.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
    expect(size()).toBe(192 * 1024);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1400);
  });

  it('loss: chunks stall (retransmission timeouts) but arrive whole and in order unless the connection is reset', async () => {
    const { proxy, dial, ups } = await setup(['a', 'b']);
    proxy.setLink('a', 'b', { loss: 0.3 });
    const s = await dial('a', 'b');
    const ended = closed(s);
    let sent = '';
    for (let i = 0; i < 60; i++) {
      sent += `${i};`;
      s.write(`${i};`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const up = ups.get('b') as Upstream;
    const got = () => Buffer.concat(up.received[0] ?? []).toString();
    const t0 = Date.now();
    let reset = false;
    void ended.then(() => {
      reset = true;
    });
    while (got() !== sent && !reset && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
    // Whatever arrived is a prefix of what was sent: nothing lost in the middle, nothing reordered.
    expect(sent.startsWith(got())).toBe(true);
    if (!reset) expect(got()).toBe(sent);
    s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const after = proxy.linkStats().find((x) => x.from === 'a' && x.to === 'b');
    expect((after?.stalls ?? 0) + (after?.resets ?? 0)).toBeGreaterThan(0);
  });

  it('names dialers from the kernel socket table: a child process is told apart from this one', async () => {
    const owners = new ProcSocketOwners();
    const proxy = new FaultProxy({ resolveDialer: owners.resolve, random: Math.random });
    cleanups.push(() => proxy.close());
    const up = await upstream(true);
    cleanups.push(() => new Promise<void>((r) => up.server.close(() => r())));
    const port = await proxy.addMember('b', up.port);
    owners.register(process.pid, 'self');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const s=require('net').connect(${port},'127.0.0.1',()=>s.write('hi'));s.on('data',()=>{});setTimeout(()=>process.exit(0),3000)`,
      ],
      { stdio: 'ignore' },
    );
    owners.register(child.pid as number, 'child');
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    const mine = connect({ host: '127.0.0.1', port });
    mine.on('error', () => {});
    cleanups.push(() => {
      mine.destroy();
    });
    const deadline = Date.now() + 10_000;
    const dialers = () =>
      proxy
        .openConnections()
        .map((c) => c.dialer)
        .sort();
    while ((dialers().length < 2 || dialers().includes('')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(dialers()).toEqual(['child', 'self']);
    expect(procTcpAddress('127.0.0.1', 8080)).toBe('0100007F:1F90');
  });
});
