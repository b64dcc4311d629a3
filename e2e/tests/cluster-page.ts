import { type Page, expect } from '@playwright/test';

/** One member as the page's data- hooks show it. */
export interface NodeInfo {
  id: string;
  role: string;
  state: string;
  term: number;
  commit: number;
  applied: number;
}

/** Reads every member card's data- attributes. */
export async function nodes(page: Page): Promise<NodeInfo[]> {
  return page.locator('[data-node-id]').evaluateAll((els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return {
        id: d['nodeId'] ?? '',
        role: d['role'] ?? '',
        state: d['state'] ?? '',
        term: Number(d['term']),
        commit: Number(d['commit']),
        applied: Number(d['applied']),
      };
    }),
  );
}

export async function node(page: Page, id: string): Promise<NodeInfo> {
  const n = (await nodes(page)).find((x) => x.id === id);
  if (!n) throw new Error(`member ${id} is not shown`);
  return n;
}

/** Opens the demo (a fresh cluster) and waits until its 4 members run and one leads, all in its term. */
export async function openCluster(page: Page): Promise<NodeInfo> {
  page.on('pageerror', (e) => console.error('pageerror:', e.message));
  await page.goto('/');
  return waitForLeader(page, 4);
}

/** Waits for exactly one running leader that `running` running members agree on (same term); returns it. */
export async function waitForLeader(page: Page, running: number, not?: string): Promise<NodeInfo> {
  let leader: NodeInfo | undefined;
  await expect
    .poll(
      async () => {
        const ns = (await nodes(page)).filter((n) => n.state === 'running');
        const leaders = ns.filter((n) => n.role === 'leader');
        leader = leaders[0];
        if (ns.length !== running || leaders.length !== 1 || !leader || leader.id === not) return 'no single leader yet';
        const l = leader;
        return ns.every((n) => n.term === l.term) ? 'elected' : 'terms differ';
      },
      { timeout: 45_000, intervals: [100, 250, 500] },
    )
    .toBe('elected');
  return leader as NodeInfo;
}

/** Clicks Propose `times` times (one value each) and waits for each to commit. */
export async function proposeOne(page: Page, value: string): Promise<void> {
  await page.getByLabel('Value to propose').fill(value);
  await page.getByRole('button', { name: 'Propose', exact: true }).click();
  await expect(page.locator('#op-status')).toHaveText(`committed “${value}”`);
}

/** Waits until each of `ids` has committed and applied at least `index`. */
export async function waitForIndex(page: Page, ids: string[], index: number, timeout = 45_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const ns = await nodes(page);
        return ids.map((id) => {
          const n = ns.find((x) => x.id === id);
          return n !== undefined && n.commit >= index && n.applied >= index;
        });
      },
      { timeout, intervals: [100, 250, 500] },
    )
    .toEqual(ids.map(() => true));
}
