import { expect, test } from '@playwright/test';
import { TEST_SPEED, deliveries, logValues, node, nodes, openCluster, shot, waitForIndex, waitForLeader } from './cluster-page.js';

const ALL = ['1', '2', '3', '4'];

test('the page opens slowed: no false "stopped", the timers run down visibly, the first election is seen and told', async ({ page }) => {
  // Every role and state each card ever shows, from the very first frame.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (globalThis as unknown as { seenRoles: string[] }).seenRoles = seen;
    new MutationObserver((records) => {
      for (const r of records) {
        const el = r.target as HTMLElement;
        if (el.dataset?.['nodeId'] && el.closest('#members'))
          seen.push(`${el.dataset['nodeId']}:${el.dataset['state']}:${el.dataset['role']}`);
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-role', 'data-state'] });
  });
  await page.goto('/');
  await expect(page.locator('#time')).toHaveAttribute('data-factor', '5');
  const header = page.locator('header');
  const headerHeight = (await header.boundingBox())?.height;
  // Before any leader: the followers' election timers count up (the rings run down) while the narration explains.
  await expect.poll(async () => (await nodes(page)).filter((n) => n.state === 'running').length, { timeout: 20_000 }).toBe(4);
  const t0 = Date.now();
  await expect(page.locator('#narration')).toContainText('election timer');
  const first = await nodes(page);
  expect(first.every((n) => n.role !== 'leader')).toBe(true);
  await expect
    .poll(async () => (await node(page, '2')).electionElapsed, { timeout: 10_000 })
    .toBeGreaterThan(first.find((n) => n.id === '2')?.electionElapsed ?? 0);
  // A pre-candidate asks first; the shot shows the election under way.
  await expect(page.locator('#narration')).toContainText('election timer ran out', { timeout: 30_000 });
  await shot(page, 'election');
  const leader = await waitForLeader(page, 4);
  // Slowed 5×, an election timeout is at least 10 ticks of 500 ms: nobody can lead within 4 s of the start.
  expect(Date.now() - t0).toBeGreaterThan(4000);
  await expect(page.locator('#events')).toContainText(`member ${leader.id} became leader in term ${leader.term}`);
  await expect(page.locator('#events')).toContainText(`became candidate in term ${leader.term}`);
  await expect(page.locator('#narration')).toContainText(`Member ${leader.id} won a majority of votes: it leads term ${leader.term}`);
  await shot(page, 'leader');
  const seen = await page.evaluate(() => (globalThis as unknown as { seenRoles: string[] }).seenRoles);
  expect(seen.filter((s) => s.includes('stopped'))).toEqual([]);
  expect(seen.some((s) => /:(candidate|precandidate)$/.test(s))).toBe(true);
  // The header never wrapped, and every label fitted inside its member.
  expect((await header.boundingBox())?.height).toBe(headerHeight);
  await expect(page.locator('canvas')).toHaveAttribute('data-labels-fit', 'true');
  // Transport events are behind a filter: hidden by default, shown when asked for.
  const transportLine = page.locator('#events li.transport').first();
  await expect(transportLine).toBeAttached();
  await expect(transportLine).toBeHidden();
  await page.getByLabel('transport events').check();
  await expect(transportLine).toBeVisible();
});

test('pause stops every delivery; step delivers exactly one; tick moves every timer by one; resume commits', async ({ page }) => {
  const leader = await openCluster(page);
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.locator('#time')).toHaveAttribute('data-paused', 'true');
  await expect(page.getByRole('button', { name: 'Resume' })).toBeVisible();
  await page.getByLabel('Value to propose').fill('stepped');
  await page.getByRole('button', { name: 'Propose', exact: true }).click();
  await expect(page.locator('#op-status')).toHaveText('propose “stepped”…');
  // A page leader appends it at once (the Node member gets it forwarded, held like every message);
  // nothing reaches another member while paused.
  await expect.poll(async () => (await deliveries(page)).held).toBeGreaterThan(0);
  await page.waitForTimeout(300);
  const before = await nodes(page);
  const d0 = await deliveries(page);
  await page.waitForTimeout(2000);
  expect((await nodes(page)).map((n) => [n.id, n.commit, n.term])).toEqual(before.map((n) => [n.id, n.commit, n.term]));
  expect(await deliveries(page)).toEqual(d0);
  await shot(page, 'paused');
  // Step: exactly one delivery.
  await page.getByRole('button', { name: 'Step' }).click();
  await expect(page.locator('#op-status')).toContainText('step: delivered Msg');
  await expect.poll(async () => (await deliveries(page)).delivered).toBe(d0.delivered + 1);
  await page.waitForTimeout(500);
  expect((await deliveries(page)).delivered).toBe(d0.delivered + 1);
  // Tick: every running page member's election timer advances by exactly one (no heartbeat can reach a follower).
  await page.waitForTimeout(300);
  const followers = (await nodes(page)).filter((n) => n.role === 'follower' && n.id !== '1');
  await page.getByRole('button', { name: 'Tick' }).click();
  await expect(page.locator('#op-status')).toContainText('tick: every running member');
  await expect
    .poll(async () => (await nodes(page)).filter((n) => followers.some((f) => f.id === n.id)).map((n) => n.electionElapsed))
    .toEqual(followers.map((f) => f.electionElapsed + 1));
  // Step on until the value is committed on the leader: one delivery at a time.
  for (let i = 0; i < 40 && !(await logValues(page, leader.id)).some((t) => t.includes('= stepped (committed)')); i++) {
    const n = (await deliveries(page)).delivered;
    await page.getByRole('button', { name: 'Step' }).click();
    await expect.poll(async () => (await deliveries(page)).delivered).toBe(n + 1);
    await page.waitForTimeout(150);
  }
  await expect.poll(() => logValues(page, leader.id)).toContainEqual(expect.stringContaining('= stepped (committed)'));
  await shot(page, 'stepped-commit');
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.locator('#time')).toHaveAttribute('data-paused', 'false');
  // The proposal's own report (the status line now shows the last operation, the events keep every one).
  await expect(page.locator('#events')).toContainText('demo: committed “stepped” at index');
  await waitForIndex(page, ALL, (await node(page, leader.id)).commit);
});

test('clicking a link on the diagram cuts it, clicking again heals it', async ({ page }) => {
  await openCluster(page);
  const layout = await page
    .locator('canvas')
    .evaluate((c) => JSON.parse((c as HTMLElement).dataset['layout'] ?? '{}') as Record<string, [number, number]>);
  const [a, b] = ['2', '4'];
  const pa = layout[a] as [number, number];
  const pb = layout[b] as [number, number];
  const mid = { x: (pa[0] + pb[0]) / 2, y: (pa[1] + pb[1]) / 2 };
  const row = page.locator(`tr[data-link="${a}-${b}"]`);
  await page.locator('canvas').click({ position: mid });
  await expect(row).toHaveAttribute('data-cut', 'true');
  await expect(page.locator('#op-status')).toHaveText(`cut link ${a}–${b}: messages on it are lost`);
  await page.locator('canvas').click({ position: mid });
  await expect(row).toHaveAttribute('data-cut', 'false');
  await expect(page.locator('#op-status')).toHaveText(`healed link ${a}–${b}`);
});

test('every message type has its own colour and shape in a complete legend', async ({ page }) => {
  await page.goto(`/${TEST_SPEED}`);
  const entries = await page.locator('#legend [data-type]').evaluateAll((els) =>
    els.map((e) => ({
      type: (e as HTMLElement).dataset['type'] ?? '',
      color: (e as HTMLElement).dataset['color'] ?? '',
      shape: (e as HTMLElement).dataset['shape'] ?? '',
    })),
  );
  // Every type one member sends another (etcd's raftpb names).
  const sent = [
    'MsgProp',
    'MsgApp',
    'MsgAppResp',
    'MsgVote',
    'MsgVoteResp',
    'MsgSnap',
    'MsgHeartbeat',
    'MsgHeartbeatResp',
    'MsgTransferLeader',
    'MsgTimeoutNow',
    'MsgReadIndex',
    'MsgReadIndexResp',
    'MsgPreVote',
    'MsgPreVoteResp',
  ];
  expect(entries.map((e) => e.type).sort()).toEqual([...sent].sort());
  expect(new Set(entries.map((e) => e.color)).size).toBe(entries.length);
  // Answers are rings, requests filled dots.
  for (const e of entries) expect(e.shape).toBe(e.type.endsWith('Resp') ? 'ring' : 'dot');
  // Colours of one shape are far apart (RGB distance), so pre-vote, vote and their answers never look alike.
  const rgb = (h: string): number[] => [1, 3, 5].map((i) => Number.parseInt(h.slice(i, i + 2), 16));
  const dist = (x: string, y: string): number => Math.hypot(...rgb(x).map((v, i) => v - (rgb(y)[i] as number)));
  for (const shape of ['dot', 'ring']) {
    const same = entries.filter((e) => e.shape === shape);
    for (let i = 0; i < same.length; i++)
      for (let j = i + 1; j < same.length; j++)
        expect(
          dist((same[i] as { color: string }).color, (same[j] as { color: string }).color),
          `${same[i]?.type} vs ${same[j]?.type}`,
        ).toBeGreaterThan(80);
  }
});
