import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { node, nodes, openCluster, proposeOne, waitForIndex, waitForLeader } from './cluster-page.js';

const ALL = ['1', '2', '3', '4'];

test('a leader is elected among the browser members and the Node member', async ({ page }) => {
  const leader = await openCluster(page);
  const ns = await nodes(page);
  expect(ns.map((n) => n.id).sort()).toEqual(ALL);
  expect(ns.filter((n) => n.role === 'leader')).toHaveLength(1);
  expect(ns.filter((n) => n.role === 'follower').map((n) => n.id)).toEqual(ALL.filter((id) => id !== leader.id));
  await expect(page.locator('#summary')).toContainText(`Leader: member ${leader.id}`);
});

test('100 proposals commit on every member, the Node member included', async ({ page, request }) => {
  await openCluster(page);
  const base = Math.max(...(await nodes(page)).map((n) => n.commit));
  await page.getByRole('button', { name: 'Propose 100' }).click();
  await expect(page.locator('#op-status')).toContainText('100 proposals committed', { timeout: 60_000 });
  await waitForIndex(page, ALL, base + 100);
  // The Node member's own report over the demo server's HTTP.
  await expect
    .poll(async () => {
      const st = (await (await request.get('/api/node-status')).json()) as { state: string; commit: number; applied: number };
      return st.state === 'running' && st.commit >= base + 100 && st.applied >= base + 100;
    })
    .toBe(true);
});

test('killing the leader elects a new one; the old leader rejoins and catches up', async ({ page }) => {
  const old = await openCluster(page);
  await page.getByRole('button', { name: `Kill member ${old.id}` }).click();
  await expect(page.locator(`[data-node-id="${old.id}"]`)).toHaveAttribute('data-state', 'stopped');
  const next = await waitForLeader(page, 3, old.id);
  expect(next.term).toBeGreaterThan(old.term);
  for (let i = 0; i < 5; i++) await proposeOne(page, `after-kill-${i}`);
  const target = (await node(page, next.id)).commit;
  expect(target).toBeGreaterThan(old.commit);
  await page.getByRole('button', { name: `Restart member ${old.id}` }).click();
  await expect(page.locator(`[data-node-id="${old.id}"]`)).toHaveAttribute('data-state', 'running');
  await waitForIndex(page, ALL, target);
  const back = await node(page, old.id);
  expect(back.role).toBe('follower');
  expect(back.term).toBeGreaterThanOrEqual(next.term);
});

test('a partitioned member cannot commit; healed, it converges', async ({ page }) => {
  const leader = await openCluster(page);
  const victim = ['2', '3', '4'].find((id) => id !== leader.id) as string;
  await page.getByRole('button', { name: `Partition member ${victim}` }).click();
  await expect(page.locator(`[data-node-id="${victim}"]`)).toHaveAttribute('data-partitioned', 'true');
  const before = (await node(page, victim)).commit;
  for (let i = 0; i < 5; i++) await proposeOne(page, `while-partitioned-${i}`);
  const others = ALL.filter((id) => id !== victim);
  // The page refreshes its data- hooks a few times a second: wait for the majority to show the commits.
  await waitForIndex(page, others, before + 5);
  const committed = Math.min(...(await nodes(page)).filter((n) => others.includes(n.id)).map((n) => n.commit));
  // Give the cut member time in which it would have caught up if it could: it must not.
  await page.waitForTimeout(1500);
  expect((await node(page, victim)).commit).toBeLessThan(committed);
  await page.getByRole('button', { name: `Heal member ${victim}` }).click();
  await waitForIndex(page, ALL, committed);
  await waitForLeader(page, 4);
});

test('a removed member shows as stopped', async ({ page }) => {
  const leader = await openCluster(page);
  const victim = ['2', '3', '4'].find((id) => id !== leader.id) as string;
  await page.getByRole('button', { name: `Remove member ${victim}` }).click();
  await expect(page.locator('#op-status')).toHaveText(`removed member ${victim} from the cluster`);
  const card = page.locator(`[data-node-id="${victim}"]`);
  await expect(card).toHaveAttribute('data-state', 'stopped');
  await expect(card).toHaveAttribute('data-role', 'removed');
  // The remaining three still make progress.
  await waitForLeader(page, 3);
  await proposeOne(page, 'after-remove');
});

test('an added member joins and catches up', async ({ page }) => {
  await openCluster(page);
  await proposeOne(page, 'before-add');
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.locator('#op-status')).toHaveText('added member 5');
  await proposeOne(page, 'after-add');
  const target = Math.max(...(await nodes(page)).map((n) => n.commit));
  await waitForIndex(page, [...ALL, '5'], target);
  await waitForLeader(page, 5);
});

test('a forced snapshot reaches a member that was down', async ({ page }) => {
  const leader = await openCluster(page);
  const victim = ['2', '3', '4'].find((id) => id !== leader.id) as string;
  await page.getByRole('button', { name: `Kill member ${victim}` }).click();
  await expect(page.locator(`[data-node-id="${victim}"]`)).toHaveAttribute('data-state', 'stopped');
  await page.getByRole('button', { name: 'Propose 100' }).click();
  await expect(page.locator('#op-status')).toContainText('100 proposals committed', { timeout: 60_000 });
  await page.getByRole('button', { name: `Snapshot member ${leader.id}` }).click();
  await expect(page.locator('#op-status')).toContainText(`member ${leader.id}: snapshot at index`);
  const target = (await node(page, leader.id)).commit;
  await page.getByRole('button', { name: `Restart member ${victim}` }).click();
  // Its log is behind the leader's compacted log: only a MsgSnap can bring it back.
  await expect(page.locator('#events')).toContainText(`member ${leader.id}: snapshot sent to ${victim}`);
  await waitForIndex(page, ALL, target);
});

test('screenshot of the running cluster', async ({ page }) => {
  await openCluster(page);
  await page.getByRole('button', { name: 'Propose 100' }).click();
  await expect(page.locator('#op-status')).toContainText('100 proposals committed', { timeout: 60_000 });
  const leader = await waitForLeader(page, 4);
  const follower = ALL.find((id) => id !== leader.id) as string;
  // One cut link (leader–follower), so the picture shows a fault and its drops too.
  const [a, b] = [leader.id, follower].sort() as [string, string];
  await page.getByRole('button', { name: `Cut link ${a}–${b}` }).click();
  await expect(page.locator(`tr[data-link="${a}-${b}"]`)).toHaveAttribute('data-cut', 'true');
  await page.getByLabel('Speed').selectOption('4');
  await expect(page.locator('#summary')).toContainText('4× slower');
  await page.getByLabel('Value to propose').fill('shown');
  await page.getByRole('button', { name: 'Propose', exact: true }).click();
  await page.waitForTimeout(900);
  const dir = fileURLToPath(new URL('../artifacts/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: `${dir}cluster.png` });
  await expect(page.locator('#op-status')).toHaveText('committed “shown”');
});
