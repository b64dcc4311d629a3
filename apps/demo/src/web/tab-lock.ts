/** This tab's hold on a cluster: no other tab of this browser runs the same members on the same storage. */
export interface TabLock {
  /** Resolves when another tab took the cluster over: this tab must stop its members at once. */
  readonly lost: Promise<void>;
  release(): void;
}

/**
 * Takes the Web Lock named `name`: at once if it is free (undefined when
 * another tab holds it), or, with `steal`, away from the tab that holds it.
 * The browser releases a tab's locks when the tab closes, reloads or crashes.
 */
export function lockCluster(name: string, steal = false): Promise<TabLock | undefined> {
  return new Promise((resolve, reject) => {
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let lostResolve!: () => void;
    const lost = new Promise<void>((r) => {
      lostResolve = r;
    });
    const options: LockOptions = steal ? { steal: true } : { ifAvailable: true };
    navigator.locks
      .request(name, options, async (lock) => {
        if (!lock) {
          resolve(undefined);
          return;
        }
        resolve({ lost, release });
        await held;
      })
      .catch((err: unknown) => {
        // A lock taken away by another tab's steal rejects its request with AbortError.
        if (err instanceof DOMException && err.name === 'AbortError') lostResolve();
        else reject(err);
      });
  });
}
