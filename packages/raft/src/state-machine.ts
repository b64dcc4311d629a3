/**
 * The replicated state machine a {@link RaftNode} drives, and the types a node
 * takes from it: `propose` resolves with what `apply` returns, `read` takes and
 * returns what the state machine's own `read` does. `KvStateMachine` is one
 * instance; any class with `apply`, `snapshot` and `restore` is another.
 */

/** A replicated state machine: apply committed commands in log order; snapshot and restore as bytes. */
export interface StateMachine<R = unknown> {
  /** Applies a committed command (entry data) at `index`; returns the result handed to the proposer. */
  apply(data: Uint8Array, index: number): R;
  /** Serializes the whole state. */
  snapshot(): Uint8Array;
  /** Replaces the state with a snapshot's. */
  restore(data: Uint8Array): void;
}

/**
 * A state machine that answers point reads: `RaftNode.read(query)` runs
 * `read(query)` after a linearizable barrier. `KvStateMachine.read(key)`
 * returns the key's value.
 */
export interface ReadableStateMachine<R = unknown, Q = unknown, V = unknown> extends StateMachine<R> {
  read(query: Q): V;
}

/** What `propose` resolves with: the return type of the state machine's `apply`. */
export type ResultOf<SM extends StateMachine> = ReturnType<SM['apply']>;

/** What `RaftNode.read` takes: the parameter of the state machine's `read` (`never` without one). */
export type ReadQueryOf<SM> = SM extends { read(query: infer Q): unknown } ? Q : never;

/** What `RaftNode.read` resolves with: the return type of the state machine's `read`. */
export type ReadValueOf<SM> = SM extends { read(query: never): infer V } ? V : never;
