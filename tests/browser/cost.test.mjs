// The estimate before a deploy, on the page: the first deploy of a version shows what it would
// cost a month on AWS (free here), and a deploy to prod waits for the "Yes, deploy to prod"
// button, which deploys it; against a real `kiln serve` with real deployments.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

const running = useServer("cost");

async function api(path) {
  const res = await fetch(`${running.base}/api/v2${path}`);
  assert.ok(res.ok, `GET ${path}: ${res.status}`);
  return res.json();
}

// Waits until the project's n runs have all ended, every one of them well.
async function settled(projectId, n, what) {
  for (let i = 0; ; i++) {
    const runs = (await api(`/projects/${projectId}/runs?limit=200`)).items;
    if (runs.length >= n && runs.every((r) => r.status === "succeeded" || r.status === "failed")) {
      assert.ok(runs.every((r) => r.status === "succeeded"), JSON.stringify(runs[0]));
      return;
    }
    assert.ok(i < 1200, `${what} did not end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function say(page, projectId, text, n) {
  await page.fill("#message", text);
  await page.keyboard.press("Enter");
  await settled(projectId, n, text);
  await page.waitForSelector("#message:not([disabled])");
}

// Dollars as the page shows them: cents, or four decimals for less than a cent.
const money = (x) => (x > 0 && x < 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`);

// Each line of a cost block: [name, detail, dollars].
const lines = (block) => block.locator("tr").evaluateAll((rows) =>
  rows.map((r) => [...r.children].map((c) => c.textContent)));

test("the cost of a deploy is shown first, and prod waits for a yes", { timeout: 600_000 }, async () => {
  const { context, page, problems } = await openPage(running.browser, { width: 1400, height: 1000 }, running.base);
  await page.click("#new-project-button");
  await page.fill("#project-name", "Priced");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Priced");
  const projectId = new URL(page.url()).hash.split("/").pop();
  await say(page, projectId, "An API for notes. Each note has a title", 1);
  await say(page, projectId, "deploy it", 2);

  // The first deploy to dev: the estimate, line by line, as the API gave it, and free here.
  const blocks = page.locator(".block.cost");
  await blocks.first().waitFor();
  assert.equal(await blocks.count(), 1);
  const shown = blocks.first();
  const conversation = (await api(`/projects/${projectId}/conversation?limit=200`)).items;
  const given = conversation.flatMap((m) => m.blocks).find((b) => b.type === "cost");
  assert.equal(given.environment, "dev");
  assert.deepEqual(await lines(shown), given.estimate.items.map((i) => [i.name, i.detail, money(i.monthly_usd)]));
  assert.equal(await shown.locator("strong").textContent(),
    `dev, version 1: about $${given.estimate.monthly_usd.toFixed(2)} a month on AWS (us-east-1, prices of ${given.estimate.prices_date})`);
  assert.equal(await shown.locator(".free").textContent(), "Deployed here, it runs on this machine for free.");
  assert.equal(await shown.locator("button").count(), 0, "nothing to confirm");
  await shown.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "34-cost-first-deploy.png") });

  // Prod waits: the reasons, and one button that says yes.
  await say(page, projectId, "deploy it to prod", 3);
  await page.waitForFunction(() => document.querySelectorAll(".block.cost").length === 2);
  const asking = blocks.last();
  assert.equal(await asking.locator(".reasons").textContent(), "Waiting for your confirmation: every deploy to prod is confirmed first.");
  const yes = asking.locator("button", { hasText: "Yes, deploy to prod" });
  assert.equal(await yes.count(), 1);
  assert.deepEqual((await api(`/projects/${projectId}`)).deployments.map((d) => d.environment), ["dev"]);
  await asking.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "35-cost-prod-waits.png") });

  // The button sends the yes; prod is deployed, and its deployment names that message.
  await yes.click();
  await settled(projectId, 4, "yes, deploy to prod");
  await page.locator("#messages a", { hasText: /^Open prod/ }).waitFor();
  const project = await api(`/projects/${projectId}`);
  assert.deepEqual(project.deployments.map((d) => d.environment), ["dev", "prod"]);
  const confirming = (await api(`/projects/${projectId}/conversation?limit=200`)).items.filter((m) => m.role === "user").pop();
  assert.equal(confirming.content, "yes, deploy to prod");
  const prod = (await api(`/projects/${projectId}/deployments?limit=1`)).items[0];
  assert.equal(prod.environment, "prod");
  assert.equal(prod.confirmed_by, confirming.id);
  await page.locator("#messages a", { hasText: /^Open prod/ }).scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "36-cost-prod-confirmed.png") });
  assert.deepEqual(problems, []);
  await context.close();
});
