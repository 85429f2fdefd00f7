// A project's history in the side panel: its runs, newest first, a page of 20 at a time with
// a "Load more" button, against a real `kiln serve`. The deployment rows are checked in
// ui.test.mjs, where a project is deployed anyway.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

const running = useServer("history");

async function api(path) {
  const res = await fetch(`${running.base}/api/v2${path}`);
  assert.ok(res.ok, `GET ${path}: ${res.status}`);
  return res.json();
}

// Every run of the project, newest first, read from the API with the largest page it allows.
async function runs(projectId) {
  return (await api(`/projects/${projectId}/runs?limit=200`)).items;
}

// Sends a message from the page and waits for its run, the n-th, to end.
async function say(page, projectId, text, n) {
  await page.fill("#message", text);
  await page.keyboard.press("Enter");
  for (let i = 0; ; i++) {
    const all = await runs(projectId);
    if (all.length >= n && all.every((r) => r.status === "succeeded" || r.status === "failed")) break;
    assert.ok(i < 600, `run ${n} of "${text}" did not end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.waitForSelector("#message:not([disabled])");
}

// What each row of the runs list says: [intent, status].
const rows = (page) => page.locator("#history-runs > li").evaluateAll((lis) =>
  lis.map((li) => [li.querySelector(".intent")?.textContent, li.querySelector(".status")?.textContent]));

test("the runs of a project, newest first, 20 at a time", { timeout: 300_000 }, async () => {
  const { context, page, problems } = await openPage(running.browser, { width: 1400, height: 900 }, running.base);
  await page.click("#new-project-button");
  await page.fill("#project-name", "History check");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "History check");
  const projectId = new URL(page.url()).hash.split("/").pop();

  // Nothing run yet.
  await page.click("#panel-toggle");
  await page.waitForFunction(() => document.querySelector("#history-runs").textContent === "No runs yet");
  assert.equal(await page.isVisible("#history-runs-more"), false);
  await page.click("#panel-toggle");

  // 21 runs: a build with nothing to build (it fails), a description, and 19 more fields.
  const messages = ["Build it", "Build a REST API for managing tasks"];
  for (let i = 1; i <= 19; i++) messages.push(`Tasks also have a field f${i}`);
  for (const [i, text] of messages.entries()) await say(page, projectId, text, i + 1);
  const expected = [["build", "failed"], ["create", "succeeded"], ...Array(19).fill(["refine", "succeeded"])].reverse();

  // The first page: the 20 newest, newest first, and a button for the rest.
  await page.click("#panel-toggle");
  await page.waitForFunction(() => document.querySelectorAll("#history-runs > li").length === 20);
  assert.deepEqual(await rows(page), expected.slice(0, 20));
  const all = await runs(projectId);
  assert.deepEqual(await page.locator("#history-runs > li").evaluateAll((lis) => lis.map((li) => li.dataset.id)),
    all.slice(0, 20).map((r) => r.id));
  // When each started, and how long it took.
  const first = page.locator("#history-runs > li").first();
  assert.equal(await first.locator("time").getAttribute("datetime"), all[0].created_at);
  assert.equal(await first.locator(".took").textContent(), `${Math.round(Date.parse(all[0].updated_at) - Date.parse(all[0].created_at))} ms`);
  for (const took of await page.locator("#history-runs .took").allTextContents()) assert.match(took, /^(\d+ ms|\d+\.\d s)$/);
  assert.ok(await page.isVisible("#history-runs-more"), "a button for the rest");
  await page.locator("#history").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "19-history-first-page.png") });

  // A run that ends while the panel is open is shown at the top.
  await say(page, projectId, "What endpoints does it have?", 22);
  expected.unshift(["question", "succeeded"]);
  await page.waitForFunction(() => document.querySelector("#history-runs .intent")?.textContent === "question");
  assert.deepEqual(await rows(page), expected.slice(0, 20));
  await page.locator("#history").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "20-history-refreshed.png") });

  // "Load more" brings the last two, then is gone: the failed build is the oldest, with why.
  await page.click("#history-runs-more");
  await page.waitForFunction(() => document.querySelectorAll("#history-runs > li").length === 22);
  assert.deepEqual(await rows(page), expected);
  assert.equal(await page.isVisible("#history-runs-more"), false);
  const failed = page.locator("#history-runs > li").last();
  assert.equal(await failed.locator(".error").textContent(),
    "Plan: there is nothing to build yet: describe what the API should manage first");
  assert.equal(await page.locator("#history-runs .error").count(), 1, "only the failed run says why");
  // The server's words are text: the rows hold only the page's own elements.
  assert.deepEqual(await page.locator("#history-runs *").evaluateAll((ns) => [...new Set(ns.map((n) => n.tagName))].sort()),
    ["DIV", "LI", "P", "SPAN", "STRONG", "TIME"]);
  // Nothing deployed: no rows, no button.
  assert.equal(await page.textContent("#history-deployments"), "Not deployed yet");
  assert.equal(await page.isVisible("#history-deployments-more"), false);
  await failed.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "21-history-all.png") });
  assert.deepEqual(problems, []);
  await context.close();
});
