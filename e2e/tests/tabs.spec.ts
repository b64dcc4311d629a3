import { expect, test } from '@playwright/test';
import {
  TEST_SPEED,
  failedResponses,
  logValues,
  node,
  nodes,
  openCluster,
  proposeOne,
  shot,
  waitForIndex,
  waitForLeader,
} from './cluster-page.js';

const ALL = ['1', '2', '3', '4'];

interface Saved {
  clusterId: string;
  token: string;
}

const savedSession = (page: import('@playwright/test').Page): Promise<Saved> =>
  page.evaluate(() => JSON.parse(sessionStorage.getItem('raftwire-demo-session') ?? '{}') as Saved);

test('two tabs on one server each get their own cluster; both elect and commit, neither disturbs the other', async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  const badA = failedResponses(a);
  const badB = failedResponses(b);
  await openCluster(a);
  await openCluster(b);
  const [sa, sb] = [await savedSession(a), await savedSession(b)];
  expect(sa.clusterId).not.toBe(sb.clusterId);
  await proposeOne(a, 'in-tab-a');
  await proposeOne(b, 'in-tab-b');
  // Tab A's Node member kept running when B opened (it used to be taken over: "1 · STOPPED").
  for (const [page, value] of [
    [a, 'in-tab-a'],
    [b, 'in-tab-b'],
  ] as const) {
    const leader = await waitForLeader(page, 4);
    await waitForIndex(page, ALL, (await node(page, leader.id)).commit);
    await expect.poll(() => logValues(page, '1')).toContainEqual(expect.stringContaining(`= ${value} (committed)`));
    expect((await nodes(page)).every((n) => n.state === 'running')).toBe(true);
  }
  // Nothing was refused: no 401 from a relay that was replaced under a tab.
  expect(badA).toEqual([]);
  expect(badB).toEqual([]);
});

test('a reload keeps the page members’ logs (IndexedDB) and resumes the same cluster; a member that missed entries catches up', async ({
  page,
}) => {
  const leader = await openCluster(page);
  const index = await proposeOne(page, 'before-reload');
  await waitForIndex(page, ALL, index);
  // A page member that does not lead stops (its log kept) and misses the next entry.
  const behind = ['2', '3', '4'].find((id) => id !== leader.id) as string;
  await page.getByRole('button', { name: `Kill member ${behind}` }).click();
  await expect(page.locator(`#members [data-node-id="${behind}"]`)).toHaveAttribute('data-state', 'stopped');
  const missed = await proposeOne(page, 'while-down');
  const up = ALL.filter((id) => id !== behind);
  await waitForIndex(page, up, missed);
  const before = await savedSession(page);
  await page.reload();
  await waitForLeader(page, 4);
  expect((await savedSession(page)).clusterId).toBe(before.clusterId);
  await expect(page.locator('#events')).toContainText(`cluster ${before.clusterId} resumed after a reload`);
  // Each page member says what its IndexedDB held, read before it started (so not sent to it since).
  const recovered = async (id: string): Promise<number> => {
    const text = (await page.locator('#events').textContent()) ?? '';
    const m = new RegExp(`member ${id} recovered (\\d+) log entries in IndexedDB`).exec(text);
    return m ? Number(m[1]) : -1;
  };
  for (const id of ['2', '3', '4']) await expect.poll(() => recovered(id)).toBeGreaterThanOrEqual(id === behind ? index : missed);
  expect(await recovered(behind)).toBeLessThan(missed);
  for (const id of ['2', '3', '4']) {
    await expect
      .poll(() => logValues(page, id))
      .toContainEqual(expect.stringMatching(new RegExp(`^entry ${index}, term \\d+: put key-\\w+ = before-reload \\(committed\\)$`)));
  }
  // The member that was down catches up with what it missed.
  await waitForIndex(page, [behind], missed);
  await expect.poll(() => logValues(page, behind)).toContainEqual(expect.stringContaining('= while-down (committed)'));
  const after = await proposeOne(page, 'after-reload');
  expect(after).toBeGreaterThan(missed);
  await waitForIndex(page, ALL, after);
});

test('a copy of a tab finds its cluster in use, and can take it over', async ({ context }) => {
  const a = await context.newPage();
  await openCluster(a);
  await proposeOne(a, 'from-tab-a');
  const saved = await a.evaluate(() => sessionStorage.getItem('raftwire-demo-session') ?? '');
  // A duplicated tab starts with a copy of the original's sessionStorage.
  const b = await context.newPage();
  await b.addInitScript((v) => {
    if (!sessionStorage.getItem('raftwire-demo-session')) sessionStorage.setItem('raftwire-demo-session', v);
  }, saved);
  await b.goto(`/${TEST_SPEED}`);
  await expect(b.locator('#notice')).toContainText('is running in another tab of this browser');
  await shot(b, 'in-use');
  await b.getByRole('button', { name: 'Take over here' }).click();
  await expect(a.locator('#notice')).toContainText('Another tab of this browser took this cluster over');
  await waitForLeader(b, 4);
  await expect.poll(() => logValues(b, '2')).toContainEqual(expect.stringContaining('= from-tab-a (committed)'));
  await proposeOne(b, 'from-tab-b');
});

test('without media permission the page asks for it, and says what to do when it cannot get it', async ({ browser }) => {
  const context = await browser.newContext({ permissions: [] });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.locator('#notice')).toContainText('only when it has media permission');
  const allow = page.getByRole('button', { name: 'Allow microphone access and start' });
  await allow.click();
  // Headless Chromium refuses the prompt (or has no device): the page says why and gives the command line.
  await expect(page.locator('#notice')).toContainText('chromium --user-data-dir=');
  await expect(page.locator('#notice')).toContainText(/refused|neither device/);
  await expect(page.locator('#summary')).toHaveText('Not started: see the message above');
  await shot(page, 'permission');
  await context.close();
});
