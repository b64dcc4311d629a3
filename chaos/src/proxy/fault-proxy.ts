/**
 * A loopback TCP proxy between cluster members that injects faults per
 * direction of data.
 *
 * Every member advertises, and every other member dials, the proxy's port
 * for it instead of the member's own peer port; the proxy forwards to the
 * member. Faults belong to a directed pair (A→B: the bytes A sends to B) and
 * apply to both kinds of connection between them, whichever side dialled:
 * raft's streams are dialled by the receiver, so the stream carrying A's
 * messages to B is a connection B opened to A whose *response* carries A's
 * data. So on a connection that D dialled to L, the request bytes follow the
 * faults of D→L and the response bytes those of L→D. A one-way partition A→B
 * therefore stalls A's pipeline requests to B and the responses of the
 * streams B opened to A, and nothing else.
 *
 * Who dialled is not in the port: membership URLs are shared by the whole
 * cluster (a joining member's URL, and the URL list in the leader's
 * snapshot, reach every member), so the port can only say where a
 * connection goes. The kernel knows where it comes from; a
 * {@link DialerResolver} asks it (see socket-owners.ts), so the faults of
 * every directed pair act exactly on that pair's connections.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';
import { FaultPipe, HEALTHY, type LinkFaults, isHealthy } from './link-faults.js';

/** Names the member that dialled an accepted connection (null when it cannot tell). */
export type DialerResolver = (socket: Socket) => Promise<string | null>;

export interface FaultProxyOptions {
  resolveDialer: DialerResolver;
  /** Random numbers in [0, 1) for jitter and loss (seed it for repeatable runs). */
  random: () => number;
  /** Where the proxy listens (default 127.0.0.1). */
  host?: string;
  /** Called with a readable line for events worth a log line (unidentified dialers). */
  log?: (line: string) => void;
}

/** Counters of one directed pair. */
export interface LinkStats {
  from: string;
  to: string;
  connections: number;
  bytes: number;
  stalls: number;
  resets: number;
  refused: number;
}

interface Proxied {
  dialer: string;
  listener: string;
  client: Socket;
  server: Socket;
  up: FaultPipe;
  down: FaultPipe;
  closed: boolean;
}

interface Endpoint {
  name: string;
  server: Server;
  port: number;
  upstreamHost: string;
  upstreamPort: number;
}

/** The dialer of a connection still being identified. */
const PENDING = '';
/** The dialer of a connection that could not be identified. */
const UNKNOWN = '?';

function pairKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

/** Ends a socket with a TCP RST (the peer sees ECONNRESET), falling back to destroy. */
function reset(s: Socket): void {
  if (s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

export class FaultProxy {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly links = new Map<string, LinkFaults>();
  private readonly stats = new Map<string, LinkStats>();
  private readonly live = new Set<Proxied>();
  /** Accepted sockets still waiting for their dialer to be named. */
  private readonly waiting = new Set<Socket>();
  private readonly host: string;
  private closing = false;

  constructor(private readonly options: FaultProxyOptions) {
    this.host = options.host ?? '127.0.0.1';
  }

  /**
   * Starts proxying to member `name`, which listens on `upstreamPort`.
   * Resolves with the proxy's port for it (`port` 0: any free port).
   */
  async addMember(name: string, upstreamPort: number, port = 0, upstreamHost = '127.0.0.1'): Promise<number> {
    if (this.endpoints.has(name)) throw new Error(`proxy: member ${name} is already proxied`);
    // Half-open allowed on both legs: a FIN is passed on only after the bytes ahead of it (the pipe ends the other leg).
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => this.accept(name, client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : 0;
    this.endpoints.set(name, { name, server, port: bound, upstreamHost, upstreamPort });
    return bound;
  }

  /** Stops proxying to `name`: its port is closed and its connections reset. */
  async removeMember(name: string): Promise<void> {
    const ep = this.endpoints.get(name);
    if (!ep) return;
    this.endpoints.delete(name);
    for (const c of [...this.live]) if (c.listener === name || c.dialer === name) this.drop(c, true);
    for (const s of this.waiting) if (s.localPort === ep.port) reset(s);
    await new Promise<void>((resolve) => ep.server.close(() => resolve()));
  }

  /** The proxy's port for `name`. */
  portOf(name: string): number {
    const ep = this.endpoints.get(name);
    if (!ep) throw new Error(`proxy: member ${name} is not proxied`);
    return ep.port;
  }

  /** The faults now on data from `from` to `to`. */
  link(from: string, to: string): LinkFaults {
    return this.links.get(pairKey(from, to)) ?? HEALTHY;
  }

  /** Sets (merges) faults on data from `from` to `to`. */
  setLink(from: string, to: string, faults: Partial<LinkFaults>): void {
    const merged = { ...this.link(from, to), ...faults };
    if (isHealthy(merged)) this.links.delete(pairKey(from, to));
    else this.links.set(pairKey(from, to), merged);
    // Connections whose dialer is not known (yet) would ignore the new fault: reset them, they will dial again.
    for (const c of [...this.live]) {
      if ((c.dialer === PENDING || c.dialer === UNKNOWN) && (c.listener === from || c.listener === to)) this.drop(c, true);
    }
    if (merged.cut) {
      for (const c of [...this.live]) {
        if ((c.dialer === from && c.listener === to) || (c.dialer === to && c.listener === from)) {
          this.counter(c.dialer, c.listener).resets++;
          this.drop(c, true);
        }
      }
    }
    this.kickPair(from, to);
  }

  /** Removes every fault; held data is delivered. */
  heal(): void {
    this.links.clear();
    for (const c of this.live) {
      c.up.kick();
      c.down.kick();
    }
  }

  /** True when no fault is set. */
  healthy(): boolean {
    return this.links.size === 0;
  }

  /** Per directed pair counters (pairs that carried a connection). */
  linkStats(): LinkStats[] {
    return [...this.stats.values()].map((s) => ({ ...s }));
  }

  /** Connections open now (dialer '' while still being identified, '?' when it could not be). */
  openConnections(): { dialer: string; listener: string }[] {
    return [...this.live].map((c) => ({ dialer: c.dialer, listener: c.listener }));
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const c of [...this.live]) this.drop(c, true);
    for (const s of this.waiting) reset(s);
    await Promise.all([...this.endpoints.keys()].map((n) => this.removeMember(n)));
  }

  private counter(from: string, to: string): LinkStats {
    const k = pairKey(from, to);
    let s = this.stats.get(k);
    if (!s) {
      s = { from, to, connections: 0, bytes: 0, stalls: 0, resets: 0, refused: 0 };
      this.stats.set(k, s);
    }
    return s;
  }

  private kickPair(a: string, b: string): void {
    for (const c of this.live) {
      if ((c.dialer === a && c.listener === b) || (c.dialer === b && c.listener === a)) {
        c.up.kick();
        c.down.kick();
      }
    }
  }

  /** True when some link to or from `name` has a fault. */
  private faultyAround(name: string): boolean {
    for (const k of this.links.keys()) {
      const [from, to] = k.split('\u0000');
      if (from === name || to === name) return true;
    }
    return false;
  }

  /**
   * Finding out who dialled takes a moment (and longer on a loaded machine).
   * While no link of the listener has a fault, bytes flow at once and the
   * dialer is named in the background; otherwise nothing flows until it is
   * known, so no byte crosses a partition. A fault set on a listener resets
   * its connections whose dialer is still unknown.
   */
  private accept(listener: string, client: Socket): void {
    client.on('error', () => {});
    if (this.closing) {
      reset(client);
      return;
    }
    const named = this.options.resolveDialer(client).catch(() => null);
    this.waiting.add(client);
    void named.finally(() => this.waiting.delete(client));
    if (!this.faultyAround(listener)) {
      const c = this.connectUpstream(listener, null, client);
      void named.then((found) => {
        if (!c || c.closed) return;
        this.identified(c, found);
        // Faults set meanwhile apply from now on.
        c.up.kick();
        c.down.kick();
      });
      return;
    }
    void named.then((found) => {
      if (found === null) {
        // Fail closed: a connection nobody can place must not cross a fault.
        this.options.log?.(`proxy: could not tell who dialled ${listener} from port ${client.remotePort ?? '?'}; reset it`);
        reset(client);
        return;
      }
      this.connectUpstream(listener, found, client);
    });
  }

  private identified(c: Proxied, found: string | null): void {
    if (found === null) this.options.log?.(`proxy: could not tell who dialled ${c.listener} from port ${c.client.remotePort ?? '?'}`);
    c.dialer = found ?? UNKNOWN;
    this.counter(c.dialer, c.listener).connections++;
    if (this.link(c.dialer, c.listener).cut || this.link(c.listener, c.dialer).cut) {
      this.counter(c.dialer, c.listener).refused++;
      this.drop(c, true);
    }
  }

  /** Connects to the member; `dialer` null while it is still being found out (no faults apply meanwhile). */
  private connectUpstream(listener: string, dialer: string | null, client: Socket): Proxied | null {
    const ep = this.endpoints.get(listener);
    if (!ep || client.destroyed || this.closing) {
      reset(client);
      return null;
    }
    if (dialer !== null && (this.link(dialer, listener).cut || this.link(listener, dialer).cut)) {
      this.counter(dialer, listener).refused++;
      reset(client);
      return null;
    }
    const server = connect({ host: ep.upstreamHost, port: ep.upstreamPort, allowHalfOpen: true });
    server.on('error', () => {});
    server.setNoDelay(true);
    client.setNoDelay(true);
    if (dialer !== null) this.counter(dialer, listener).connections++;
    const c: Proxied = {
      dialer: dialer ?? PENDING,
      listener,
      client,
      server,
      closed: false,
      up: new FaultPipe(
        client,
        server,
        () => this.link(c.dialer, listener),
        this.options.random,
        () => this.lossReset(c),
      ),
      down: new FaultPipe(
        server,
        client,
        () => this.link(listener, c.dialer),
        this.options.random,
        () => this.lossReset(c),
      ),
    };
    this.live.add(c);
    // A reset on either leg is passed on as a reset; otherwise the connection is gone once both legs closed.
    let closedLegs = 0;
    const onClose = (hadError: boolean) => {
      closedLegs++;
      if (hadError || closedLegs === 2) this.drop(c, hadError);
    };
    client.on('close', onClose);
    server.on('close', onClose);
    client.on('error', () => this.drop(c, true));
    server.on('error', () => this.drop(c, true));
    client.resume();
    return c;
  }

  private lossReset(c: Proxied): void {
    if (c.dialer !== PENDING) this.counter(c.dialer, c.listener).resets++;
    this.drop(c, true);
  }

  private drop(c: Proxied, hard: boolean): void {
    if (c.closed) return;
    c.closed = true;
    this.live.delete(c);
    if (c.dialer !== PENDING) {
      const s = this.counter(c.dialer, c.listener);
      s.bytes += c.up.stats.bytes + c.down.stats.bytes;
      s.stalls += c.up.stats.stalls + c.down.stats.stalls;
    }
    c.up.close();
    c.down.close();
    if (hard) {
      reset(c.client);
      reset(c.server);
    } else {
      c.client.destroy();
      c.server.destroy();
    }
  }
}
