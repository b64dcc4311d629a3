import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Page, type Response, expect } from '@playwright/test';

/** One member as the page's data- hooks show it. */
export interface NodeInfo {
  id: string;
  role: string;
  state: string;
  term: number;
  commit: number;
  applied: number;
  electionElapsed: number;
  electionTimeout: number;
}

/** Reads every member card's data- attributes. */
export async function nodes(page: Page): Promise<NodeInfo[]> {
  return page.locator('#members [data-node-id]').evaluateAll((els) =>
    els.map((e) => {
      const d = (e as HTMLElement).dataset;
      return {
        id: d['nodeId'] ?? '',
        role: d['role'] ?? '',
        state: d['state'] ?? '',
        term: Number(d['term']),
        commit: Number(d['commit']),
        applied: Number(d['applied']),
        electionElapsed: Number(d['electionElapsed']),
        electionTimeout: Number(d['electionTimeout']),
      };
    }),
  );
}

export async function node(page: Page, id: string): Promise<NodeInfo> {
  const n = (await nodes(page)).find((x) => x.id === id);
  if (!n) throw new Error(`member ${id} is not shown`);
  return n;
}

/** Records every HTTP answer ≥ 400 the page gets (a page that works gets none). */
export function failedResponses(page: Page): string[] {
  const bad: string[] = [];
  page.on('response', (r: Response) => {
    if (r.status() >= 400) bad.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return bad;
}

/**
 * The tests' speed: Raft's timers 2× slower than real time (ticks of 200 ms, election timeouts
 * of 2–4 s), messages as fast as the transport carries them. At real time a loaded 2-core
 * machine stalls a page long enough to trigger elections the tests do not ask for.
 */
export const TEST_SPEED = '?speed=2';

/**
 * Opens the demo (a fresh cluster of its own) and waits until its 4 members run and one leads,
 * all in its term. The page opens 5× slower by default, for a person; tests use {@link TEST_SPEED}.
 */
export async function openCluster(page: Page, query = TEST_SPEED): Promise<NodeInfo> {
  page.on('pageerror', (e) => console.error('pageerror:', e.message));
  await page.goto(`/${query}`);
  return waitForLeader(page, 4);
}

/** Waits for exactly one running leader that `running` running members agree on (same term); returns it. */
export async function waitForLeader(page: Page, running: number, not?: string, timeout = 45_000): Promise<NodeInfo> {
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
      { timeout, intervals: [100, 250, 500] },
    )
    .toBe('elected');
  return leader as NodeInfo;
}

/** Proposes one value with the Propose button, waits until the page says it committed, and returns its log index. */
export async function proposeOne(page: Page, value: string): Promise<number> {
  await page.getByLabel('Value to propose').fill(value);
  await page.getByRole('button', { name: 'Propose', exact: true }).click();
  const status = page.locator('#op-status');
  await expect(status).toHaveText(new RegExp(`^committed “${value}” at index \\d+$`));
  return Number((await status.textContent())?.replace(/^.* at index /, ''));
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

/** The values in member `id`'s log strip, oldest first. */
export async function logValues(page: Page, id: string): Promise<string[]> {
  return page.locator(`[data-log-of="${id}"] .entry`).evaluateAll((els) => els.map((e) => (e as HTMLElement).title));
}

/** Messages delivered so far and held now, as the page's time controls report them. */
export async function deliveries(page: Page): Promise<{ delivered: number; held: number; paused: boolean }> {
  const d = await page.locator('#time').evaluate((e) => ({ ...(e as HTMLElement).dataset }));
  return { delivered: Number(d['delivered']), held: Number(d['held']), paused: d['paused'] === 'true' };
}

const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url));

/** Saves a screenshot as e2e/artifacts/<name>.png (docs/img holds copies from a recent run). */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}${name}.png` });
}
