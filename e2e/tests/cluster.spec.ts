import { expect, test } from '@playwright/test';
import { failedResponses, logValues, node, nodes, openCluster, proposeOne, shot, waitForIndex, waitForLeader } from './cluster-page.js';

const ALL = ['1', '2', '3', '4'];

test('a leader is elected among the browser members and the Node member; values show in every log', async ({ page }) => {
  // openCluster waits for one leader in a term all four share, the others its followers.
  const elected = await openCluster(page);
  expect((await nodes(page)).map((n) => n.id).sort()).toEqual(ALL);
  await expect(page.locator('#summary')).toContainText(`Leader: member ${elected.id}`);
  const index = await proposeOne(page, 'seen-everywhere');
  await waitForIndex(page, ALL, index);
  // Every member's log strip shows the value, committed, in the entry at that index.
  for (const id of ALL) {
    await expect
      .poll(() => logValues(page, id))
      .toContainEqual(expect.stringMatching(new RegExp(`^entry ${index}, term \\d+: put key-\\w+ = seen-everywhere \\(committed\\)$`)));
  }
});

test("the page's members sign their offers and answers, and the page's relay refuses a join without the page's credential", async ({
  page,
  request,
}) => {
  await openCluster(page);
  const seen = await page.evaluate(() => {
    const c = (
      globalThis as unknown as {
        raftwireDemo: { cluster: { session: { relayUrl: string }; slots: Map<string, { member?: { link: { authenticated: boolean } } }> } };
      }
    ).raftwireDemo.cluster;
    return { relayUrl: c.session.relayUrl, authenticated: [...c.slots.values()].map((s) => s.member?.link.authenticated === true) };
  });
  expect(seen.authenticated).toEqual([true, true, true]);
  // Another local process (this test's own HTTP client) that found the relay's port.
  const clusterId = await page.evaluate(
    () => (JSON.parse(sessionStorage.getItem('raftwire-demo-session') ?? '{}') as { clusterId: string }).clusterId,
  );
  const join = await request.post(`${seen.relayUrl}/join`, { data: { clusterId, memberId: '2' } });
  expect(join.status()).toBe(401);
  // The cluster still works (the refused join disturbed nobody).
  const index = await proposeOne(page, 'after-refused-join');
  await waitForIndex(page, ALL, index);
});

test('100 proposals commit on every member, the Node member included', async ({ page, request }) => {
  await openCluster(page);
  const base = Math.max(...(await nodes(page)).map((n) => n.commit));
  await page.getByRole('button', { name: 'Propose 100' }).click();
  await expect(page.locator('#op-status')).toContainText('100 proposals committed', { timeout: 60_000 });
  await waitForIndex(page, ALL, base + 100);
  // The Node member's own report over the demo server's HTTP, with this page's cluster token.
  const session = await page.evaluate(
    () => JSON.parse(sessionStorage.getItem('raftwire-demo-session') ?? '{}') as { clusterId: string; token: string },
  );
  await expect
    .poll(async () => {
      const st = (await (
        await request.get(`/api/sessions/${session.clusterId}/status`, { headers: { 'x-demo-token': session.token } })
      ).json()) as {
        member: { state: string; commit: number; applied: number };
      };
      return st.member.state === 'running' && st.member.commit >= base + 100 && st.member.applied >= base + 100;
    })
    .toBe(true);
  // Without the token the server tells nothing about the cluster.
  expect((await request.get(`/api/sessions/${session.clusterId}/status`)).status()).toBe(403);
});

test('killing the leader elects a new one, named in the events; the old leader rejoins and catches up', async ({ page }) => {
  const old = await openCluster(page);
  await page.getByRole('button', { name: `Kill member ${old.id}` }).click();
  await expect(page.locator(`#members [data-node-id="${old.id}"]`)).toHaveAttribute('data-state', 'stopped');
  await expect(page.locator('#op-status')).toContainText(`killed member ${old.id}`);
  const next = await waitForLeader(page, 3, old.id);
  expect(next.term).toBeGreaterThan(old.term);
  await expect(page.locator('#events')).toContainText(`member ${next.id} became leader in term ${next.term}`);
  for (let i = 0; i < 3; i++) await proposeOne(page, `after-kill-${i}`);
  const target = (await node(page, next.id)).commit;
  expect(target).toBeGreaterThan(old.commit);
  await page.getByRole('button', { name: `Restart member ${old.id}` }).click();
  await expect(page.locator('#op-status')).toContainText(`restarted member ${old.id}`);
  await expect(page.locator(`#members [data-node-id="${old.id}"]`)).toHaveAttribute('data-state', 'running');
  await waitForIndex(page, ALL, target);
  const back = await node(page, old.id);
  expect(back.role).toBe('follower');
  expect(back.term).toBeGreaterThanOrEqual(next.term);
  await shot(page, 'new-leader');
});

test('a partitioned member cannot commit; its links offer Heal; healed, it converges', async ({ page }) => {
  const leader = await openCluster(page);
  const victim = ['2', '3', '4'].find((id) => id !== leader.id) as string;
  await page.getByRole('button', { name: `Partition member ${victim}` }).click();
  await expect(page.locator(`#members [data-node-id="${victim}"]`)).toHaveAttribute('data-partitioned', 'true');
  // Every link of the partitioned member is cut, and its button says so (it used to offer "Cut").
  for (const other of ALL.filter((id) => id !== victim)) {
    const [a, b] = [victim, other].sort();
    await expect(page.locator(`tr[data-link="${a}-${b}"]`)).toHaveAttribute('data-cut', 'true');
    await expect(page.getByRole('button', { name: `Heal link ${a}–${b}` })).toBeVisible();
  }
  const before = (await node(page, victim)).commit;
  for (let i = 0; i < 3; i++) await proposeOne(page, `while-partitioned-${i}`);
  const others = ALL.filter((id) => id !== victim);
  await waitForIndex(page, others, before + 3);
  const committed = Math.min(...(await nodes(page)).filter((n) => others.includes(n.id)).map((n) => n.commit));
  // Give the cut member time in which it would have caught up if it could: it must not.
  await page.waitForTimeout(1500);
  expect((await node(page, victim)).commit).toBeLessThan(committed);
  await shot(page, 'partition');
  await page.getByRole('button', { name: `Heal member ${victim}` }).click();
  await waitForIndex(page, ALL, committed);
  await waitForLeader(page, 4);
});

test('a removed member leaves the picture; Add member then adds a new ID; the button says when it cannot', async ({ page }) => {
  const leader = await openCluster(page);
  const add = page.getByRole('button', { name: 'Add member' });
  await add.click();
  await expect(page.locator('#op-status')).toContainText('added member 5');
  // Four page members is the most the page runs: the button says why it is off.
  await expect(add).toBeDisabled();
  await expect(add).toHaveAttribute('title', /at most 4 members/);
  await waitForLeader(page, 5);
  const victim = ['2', '3', '4', '5'].find((id) => id !== leader.id) as string;
  await page.getByRole('button', { name: `Remove member ${victim}` }).click();
  await expect(page.locator('#op-status')).toHaveText(`removed member ${victim} from the cluster`);
  const card = page.locator(`#members [data-node-id="${victim}"]`);
  await expect(card).toHaveAttribute('data-state', 'stopped');
  await expect(card).toHaveAttribute('data-role', 'removed');
  // Gone from the diagram, the links table and the header's count; its controls are off.
  await expect
    .poll(() => page.locator('canvas').evaluate((c) => Object.keys(JSON.parse((c as HTMLElement).dataset['layout'] ?? '{}'))))
    .not.toContain(victim);
  await expect(page.locator(`tr[data-link*="${victim}"]`)).toHaveCount(0);
  await expect(page.locator('#summary')).toContainText('4 of 4 members up');
  await expect(page.getByRole('button', { name: `Partition member ${victim}` })).toBeDisabled();
  await expect(page.getByRole('button', { name: `Remove member ${victim}` })).toBeDisabled();
  // With a page member fewer, a member can be added again: a new ID, since a removed one never comes back.
  await expect(add).toBeEnabled();
  await add.click();
  await expect(page.locator('#op-status')).toContainText('added member 6');
  await proposeOne(page, 'after-add');
  const target = Math.max(...(await nodes(page)).map((n) => n.commit));
  const members = (await nodes(page)).filter((n) => n.role !== 'removed').map((n) => n.id);
  expect(members.sort()).toEqual(['1', '2', '3', '4', '5', '6'].filter((id) => id !== victim));
  await waitForIndex(page, members, target);
});

test('a forced snapshot reaches a member that was down', async ({ page }) => {
  const leader = await openCluster(page);
  const victim = ['2', '3', '4'].find((id) => id !== leader.id) as string;
  await page.getByRole('button', { name: `Kill member ${victim}` }).click();
  await expect(page.locator(`#members [data-node-id="${victim}"]`)).toHaveAttribute('data-state', 'stopped');
  await page.getByRole('button', { name: 'Propose 100' }).click();
  await expect(page.locator('#op-status')).toContainText('100 proposals committed', { timeout: 60_000 });
  await page.getByRole('button', { name: `Snapshot member ${leader.id}` }).click();
  await expect(page.locator('#op-status')).toContainText(`member ${leader.id}: snapshot at index`);
  const target = (await node(page, leader.id)).commit;
  await page.getByRole('button', { name: `Restart member ${victim}` }).click();
  // Its log is behind the leader's compacted log: only a MsgSnap can bring it back.
  await expect(page.locator('#events')).toContainText(`member ${leader.id} sent a snapshot to member ${victim}`);
  await waitForIndex(page, ALL, target);
});

test('member 1 (Node.js) kill and restart report what really happened, a refused restart included', async ({ page }) => {
  const bad = failedResponses(page);
  await openCluster(page);
  const card = page.locator('#members [data-node-id="1"]');
  await page.getByRole('button', { name: 'Kill member 1' }).click();
  await expect(page.locator('#op-status')).toContainText('killed member 1');
  await expect(card).toHaveAttribute('data-state', 'stopped');
  // While member 1 is away, each page member asks the relay for it once per backoff window
  // (0.5 s, doubling), not at every redial: at most 4 refusals each in 3 s, and only "not found".
  bad.length = 0;
  await page.waitForTimeout(3000);
  expect(
    bad.every((b) => /^404 POST \/raft-signal\/send$/.test(b)),
    bad.join(', '),
  ).toBe(true);
  expect(bad.length).toBeLessThanOrEqual(12);
  // The server refuses the restart (as when it fails to start the member): the page says so and shows it stopped.
  await page.route('**/node/restart', (route) =>
    route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"refused for the test","code":"failed"}' }),
  );
  await page.getByRole('button', { name: 'Restart member 1' }).click();
  await expect(page.locator('#op-status')).toHaveText('restart member 1 failed: refused for the test');
  await expect(card).toHaveAttribute('data-state', 'stopped');
  await expect(page.getByRole('button', { name: 'Restart member 1' })).toBeVisible();
  await page.unroute('**/node/restart');
  await page.getByRole('button', { name: 'Restart member 1' }).click();
  await expect(page.locator('#op-status')).toContainText('restarted member 1');
  await expect(card).toHaveAttribute('data-state', 'running');
  await waitForLeader(page, 4);
  // Back to normal: nothing is refused any more.
  bad.length = 0;
  await page.waitForTimeout(2000);
  expect(bad).toEqual([]);
});

test('a proposal without a quorum says why it does not commit, and gives up', async ({ page }) => {
  // Real time: the page gives up after 5 s of Raft time, and no election here needs the slack.
  const leader = await openCluster(page, '?speed=1');
  // Two of four down: no majority.
  const victims = ALL.filter((id) => id !== leader.id && id !== '1').slice(0, 2);
  for (const v of victims) {
    await page.getByRole('button', { name: `Kill member ${v}` }).click();
    await expect(page.locator(`#members [data-node-id="${v}"]`)).toHaveAttribute('data-state', 'stopped');
  }
  await page.getByLabel('Value to propose').fill('no-quorum');
  await page.getByRole('button', { name: 'Propose', exact: true }).click();
  await expect(page.locator('#op-status')).toContainText('propose “no-quorum”…');
  await expect(page.locator('#op-status')).toContainText('propose “no-quorum” failed: not committed', { timeout: 20_000 });
  await expect(page.locator('#op-status')).toContainText('It may still commit once a majority is reachable');
});
