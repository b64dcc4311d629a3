import { type Clock, type Entry, EntryType, type Id, type Logger, type TimerHandle } from '@raftwire/core';
import { type EtcdAttributes, EtcdRequestIdGenerator, encodeEtcdRequest, etcdPublishRequest } from '@raftwire/core/etcd';

export interface AttributePublisherOptions {
  id: Id;
  attributes: EtcdAttributes;
  clock: Clock;
  /** How long one attempt waits for its entry to come back committed (etcd: its request timeout). */
  timeoutMs: number;
  logger: Logger;
  /** True when proposing makes sense now (a leader is known and this member is in the cluster). */
  ready(): boolean;
  /** Proposes `data` as an EntryNormal; false when it was dropped (no leader). */
  propose(data: Uint8Array): boolean;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * etcd's `publish()`: proposes `PUT /0/members/<id>/attributes` with this member's name and
 * client URLs through raft until the entry comes back committed, a fresh request ID per attempt
 * (as etcd's `Do` assigns one each time). Every member applies it, so `etcdctl member list`
 * shows the member started under its name. Done once per start, as etcd does.
 */
export class AttributePublisher {
  private readonly ids: EtcdRequestIdGenerator;
  /** The requests proposed so far: any of them committing means published. */
  private readonly attempts: Uint8Array[] = [];
  private timer: TimerHandle | undefined;
  private stopped = false;
  published = false;

  constructor(private readonly o: AttributePublisherOptions) {
    this.ids = new EtcdRequestIdGenerator(o.id, o.clock.now());
  }

  /** Proposes now unless an attempt is waiting or it is done. */
  kick(): void {
    if (this.published || this.stopped || this.timer !== undefined || !this.o.ready()) return;
    const data = encodeEtcdRequest(etcdPublishRequest(this.o.id, this.o.attributes, this.ids.next()));
    if (!this.o.propose(data)) return; // no leader: the next leader change kicks again
    this.attempts.push(data);
    if (this.attempts.length > 16) this.attempts.shift();
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.published || this.stopped) return;
      this.o.logger.warn(
        { 'publish-timeout': `${this.o.timeoutMs}ms` },
        'failed to publish local member to cluster through raft; retrying',
      );
      this.kick();
    }, this.o.timeoutMs);
  }

  /** A committed entry: one of our requests means the attributes are published. True then. */
  committed(e: Entry): boolean {
    if (this.published || e.type !== EntryType.EntryNormal || !this.attempts.some((a) => equalBytes(a, e.data))) return false;
    this.published = true;
    this.clear();
    this.o.logger.info(
      { name: this.o.attributes.name, 'client-urls': this.o.attributes.clientURLs, index: e.index },
      'published local member to cluster through raft',
    );
    return true;
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
