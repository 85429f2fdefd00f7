// The `load_test` block QA posts after a deploy, against a real `kiln serve` that deployed the
// app under uvicorn, smoke-tested it and load-tested it: the smoke test's verdict, the load
// test's numbers and the latency chart drawn from its histogram. Then the same answer with a
// failed smoke test (the conversation's JSON as the server sends it, with the block's smoke
// test failed, whose problem text is hostile): the failures are listed as text.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

const running = useServer("loadtest", { KILN_LOAD_TEST_REQUESTS: "300" });
const { api, say } = running;

test("a deploy's smoke and load test show with a latency chart, and a failed smoke test lists its calls", { timeout: 600_000 }, async () => {
  const project = await api("POST", "/projects", { name: "Load check" });
  assert.equal((await say(project.id, "API for notes. Each note has a title")).status, "succeeded");
  const run = await say(project.id, "deploy it");
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  const conversation = await api("GET", `/projects/${project.id}/conversation?limit=200`);
  const block = conversation.items.flatMap((m) => m.blocks).find((b) => b.type === "load_test");
  assert.ok(block, "QA posted a load_test block");
  assert.equal(block.load.requests, 300);

  const { context, page, problems } = await openPage(running.browser, { width: 1300, height: 900 }, running.base);
  await page.locator("#projects button", { hasText: "Load check" }).click();
  const shown = page.locator(".block.load-test");
  await shown.waitFor();
  await shown.scrollIntoViewIfNeeded();
  assert.equal(
    await shown.locator("strong.smoke").textContent(),
    "Smoke test of version 1 in dev: all 7 calls answered as documented",
  );
  assert.equal(await shown.locator("strong.smoke").getAttribute("class"), "passed smoke");
  const stat = (k) => shown.locator(`dd[data-stat='${k}']`).textContent();
  assert.equal(await stat("Requests"), "300 at 16 connections");
  assert.match(await stat("p50"), /^[\d.,]+ ms$/);
  assert.equal(await stat("Errors"), `${(block.load.error_rate * 100).toFixed(1)}% (${block.load.errors})`);
  // The bars hold every request the histogram counted, and no more.
  const counts = await shown.locator("svg.latency-chart rect.bar").evaluateAll((bars) => bars.map((b) => Number(b.dataset.count)));
  assert.ok(counts.length >= 1, "at least one bar");
  assert.equal(counts.reduce((a, b) => a + b, 0), 300);
  const tallest = await shown.locator("svg.latency-chart rect.bar").evaluateAll((bars) => Math.max(...bars.map((b) => Number(b.getAttribute("height")))));
  assert.equal(tallest, 90, "the fullest bucket fills the chart's height");
  await shown.screenshot({ path: join(shots, "60-load-test-block.png") });
  await page.screenshot({ path: join(shots, "61-load-test-in-conversation.png") });

  // The same conversation, answered with the smoke test failed at two calls.
  const hostile = "<img src=x onerror=\"window.pwned=1\">";
  await page.route(/\/conversation\?limit=200/, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    for (const m of body.items) {
      for (const b of m.blocks) {
        if (b.type !== "load_test") continue;
        b.smoke = {
          passed: false, calls: 7,
          failures: [
            { method: "PATCH", path: "/notes/1", status: 500, problem: `expected 200, got 500: ${hostile}` },
            { method: "GET", path: "/notes/1", status: null, problem: "no answer within 10 s" },
          ],
        };
        b.load = null;
      }
    }
    await route.fulfill({ response: res, json: body });
  });
  await page.reload();
  await page.locator("#projects button", { hasText: "Load check" }).click();
  // The page may render the conversation twice (the project it remembers, then the click).
  await page.waitForFunction(() => document.querySelector(".block.load-test strong.smoke.failed"));
  const failed = page.locator(".block.load-test");
  assert.equal(await failed.locator("strong.smoke").textContent(), "Smoke test of version 1 in dev: 2 of 7 calls failed");
  assert.equal(await failed.locator("strong.smoke").getAttribute("class"), "failed smoke");
  assert.deepEqual(await failed.locator(".smoke-failures li").allTextContents(), [
    `PATCH /notes/1 500: expected 200, got 500: ${hostile}`,
    "GET /notes/1 no answer: no answer within 10 s",
  ]);
  assert.equal(await failed.locator("img").count(), 0, "the answer's text stays text");
  assert.equal(await failed.locator("svg").count(), 0, "no chart without a load test");
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await failed.screenshot({ path: join(shots, "62-smoke-test-failed.png") });
  assert.deepEqual(problems, []);
  await context.close();
});
