import { type Entry, EntryType, ErrorCode, formatId, type Id, type Logger, RaftwireError, type Snapshot } from '@raftwire/core';
import { ConfChangeRefusal, decodeRefusedConfChange } from './conf-change.js';
import { decodeConfContext, isProposal, PROPOSAL_HEADER_BYTES, ProposalCodec, type ProposalId, proposalPayload } from './driver-codec.js';
import { KvStateMachine } from './kv.js';
import type { StateMachine } from './state-machine.js';
import type { Member, Membership } from './membership.js';
import type { RawNode } from './raw-node.js';
import type { WritableStorage } from './storage.js';
import type { Wait } from './wait.js';

export interface ApplierOptions<R> {
  id: Id;
  /** Random per start: tells this life's proposals from a previous one's. */
  incarnation: number;
  stateMachine: StateMachine<R>;
  membership: Membership;
  storage: WritableStorage;
  logger: Logger;
  /** Local proposals by sequence, settled with the state machine's result. */
  proposals: Wait<number, R>;
  /** Local conf changes by sequence, settled with the member list. */
  confChanges: Wait<number, Member[]>;
  /** This member applied its own removal. */
  onRemovedSelf(): void;
}

/**
 * Applies what Raft committed (etcd's etcdserver apply path): conf changes
 * to the membership, commands to the state machine, snapshots to both; and
 * settles the waiter of each entry this member proposed in this life. Also
 * saves snapshots and compacts the log.
 *
 * Nothing a committed entry holds can stop it: an entry it cannot decode
 * (not written by a driver), a command the state machine throws on, a conf
 * change that is malformed or invalid for the members it applies to, are
 * each skipped the same way on every member, deterministically (the
 * proposer's waiter, if it is this member's, fails with the reason).
 */
export class Applier<R> {
  /** Index of the last entry applied. */
  applied = 0;
  /** Index of the last snapshot saved or restored. */
  snapshotIndex = 0;

  /** Recognises this life's proposals without decoding each entry's proposal ID. */
  private readonly codec: ProposalCodec;

  /** The state machine when it is a KvStateMachine with its own `apply`: applied in place, without a payload view per entry. */
  private readonly kv: KvStateMachine | null;

  constructor(private readonly o: ApplierOptions<R>) {
    this.codec = new ProposalCodec(o.id, o.incarnation);
    const sm = o.stateMachine;
    this.kv = sm instanceof KvStateMachine && sm.apply === KvStateMachine.prototype.apply ? sm : null;
  }

  /**
   * Replaces the state machine and the members with a snapshot's: from storage at start (logged
   * at debug: the restart line says where the member starts) or one sent by the leader (info).
   */
  restoreSnapshot(snap: Snapshot, from: 'storage' | 'leader' = 'leader'): void {
    const o = this.o;
    const index = snap.metadata.index;
    o.membership.restoreSnapshot(snap.data, snap.metadata.confState, (state) => o.stateMachine.restore(state));
    this.applied = index;
    this.snapshotIndex = index;
    const fields = { 'snapshot-index': index, members: o.membership.size };
    if (from === 'leader') o.logger.info(fields, `applied the leader's snapshot at index ${index}`);
    else o.logger.debug(fields, 'applied snapshot from storage');
  }

  /** Applies one committed entry (entries at or below the applied index are skipped). */
  applyEntry(rn: RawNode, e: Entry): void {
    if (e.index <= this.applied) return;
    if (e.type === EntryType.EntryConfChange) this.applyConfChange(rn, e);
    else this.applyCommand(e);
    this.applied = e.index;
  }

  /** Saves a snapshot at the applied index and compacts the log, keeping `catchUp` entries behind it. */
  async saveSnapshot(rn: RawNode, catchUp: number, signal: AbortSignal | undefined): Promise<void> {
    const { storage, membership, stateMachine, logger } = this.o;
    storage.createSnapshot(this.applied, rn.confState(), membership.snapshotData(stateMachine.snapshot()));
    this.snapshotIndex = this.applied;
    const compactTo = this.applied - catchUp;
    if (compactTo >= storage.firstIndex()) storage.compact(compactTo);
    await storage.sync(signal);
    logger.info(
      { 'snapshot-index': this.applied, 'compact-index': compactTo },
      `saved a snapshot at index ${this.applied} and compacted the log`,
    );
  }

  private isMine(p: ProposalId): boolean {
    return p.proposer === this.o.id && p.incarnation === this.o.incarnation;
  }

  private applyConfChange(rn: RawNode, e: Entry): void {
    const o = this.o;
    const out = o.membership.applyConfChange(rn, e.data);
    if (out.removedSelf) o.onRemovedSelf();
    if (!this.isMine(out.proposal)) return;
    if (out.error === null) o.confChanges.trigger(out.proposal.seq, o.membership.list());
    else o.confChanges.fail(out.proposal.seq, out.error);
  }

  /** A conf change the leader refused: the proposer's waiter fails with the reason (ERR_CONFLICT). */
  private applyRefusedConfChange(refused: NonNullable<ReturnType<typeof decodeRefusedConfChange>>): void {
    const p = decodeConfContext(refused.cc.context);
    if (!this.isMine(p)) return;
    const member = formatId(refused.cc.nodeId);
    const why =
      refused.reason === ConfChangeRefusal.Pending
        ? `another membership change is in progress; retry once it is applied (member ${member} not changed)`
        : `learner ${member} has not caught up with the leader's log yet; promote it later`;
    this.o.confChanges.fail(p.seq, new RaftwireError(ErrorCode.CONFLICT, why));
  }

  private applyCommand(e: Entry): void {
    const refused = decodeRefusedConfChange(e.data);
    if (refused) {
      this.applyRefusedConfChange(refused);
      return;
    }
    if (!isProposal(e.data)) return; // not written by a driver (a new leader's empty entry): nothing to apply
    let result: R | undefined;
    let error: unknown = null;
    try {
      const kv = this.kv;
      result = kv ? (kv.applyAt(e.data, PROPOSAL_HEADER_BYTES) as R) : this.o.stateMachine.apply(proposalPayload(e.data), e.index);
    } catch (err) {
      // A bad command fails deterministically on every member; it must not stop the node.
      error = err;
    }
    const seq = this.codec.mineSeq(e.data);
    if (seq < 0) return;
    if (error !== null) this.o.proposals.fail(seq, error);
    else this.o.proposals.trigger(seq, result as R);
  }
}
