// The code reviewer's block in the page, against a real `kiln serve` whose reviews ask the
// tests' stand-in vulnerability database, here knowing an advisory of the FastAPI every
// generated project pins: the review of the build lists it (severity, file, rule, message,
// fix), "deploy it" is refused with the finding named, and "deploy anyway" deploys and says so.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shots, launchBrowser, openPage, startOsv, startServer } from "./harness.mjs";

const dataDir = mkdtempSync(join(tmpdir(), "kiln-ui-review-"));
let server, base, browser;

before(async () => {
  const osv = await startOsv(["fastapi==0.165.0:GHSA-kiln-ui-0001:0.165.1"]);
  ({ child: server, url: base } = await startServer({ KILN_OSV_URL: osv }, dataDir));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

async function api(path) {
  const res = await fetch(`${base}/api/v2${path}`);
  assert.ok(res.ok, `GET ${path}: ${res.status}`);
  return res.json();
}

// Sends a message from the page and waits until the project's n runs have all ended; answers
// the newest run.
async function say(page, projectId, text, n) {
  await page.fill("#message", text);
  await page.keyboard.press("Enter");
  for (let i = 0; ; i++) {
    const runs = (await api(`/projects/${projectId}/runs?limit=200`)).items;
    if (runs.length >= n && runs.every((r) => r.status === "succeeded" || r.status === "failed")) {
      await page.waitForSelector("#message:not([disabled])");
      return runs[0];
    }
    assert.ok(i < 1200, `"${text}" did not end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// What each finding of the page's review blocks says.
const findings = (page) => page.locator(".block.review .finding").evaluateAll((lis) => lis.map((li) => ({
  severity: li.querySelector(".severity").textContent,
  where: li.querySelector(".where").textContent,
  rule: li.querySelector(".rule").textContent,
  fix: li.querySelector(".fix").textContent,
})));

test("a review's findings are listed, block the deploy, and deploy anyway goes over them", { timeout: 600_000 }, async () => {
  const { context, page, problems } = await openPage(browser, { width: 1400, height: 1000 }, base);
  await page.click("#new-project-button");
  await page.fill("#project-name", "Reviewed notes");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Reviewed notes");
  const id = new URL(page.url()).hash.split("/").pop();
  assert.equal((await say(page, id, "API for notes. Each note has a title", 1)).status, "succeeded");
  assert.equal((await say(page, id, "build it", 2)).status, "succeeded");

  // The review block: its counts, and the finding with where, rule and fix.
  const block = page.locator(".block.review").first();
  await block.waitFor();
  assert.equal(await block.locator("strong").textContent(), "Review of version 1: 1 high, 0 medium, 0 low");
  assert.equal(await block.locator("strong").getAttribute("class"), "verdict blocked");
  const listed = await findings(page);
  assert.equal(listed.length, 1, JSON.stringify(listed));
  assert.deepEqual(
    { severity: listed[0].severity, where: listed[0].where, rule: listed[0].rule },
    { severity: "high", where: "requirements.txt", rule: "pip-audit/GHSA-kiln-ui-0001" });
  assert.match(listed[0].fix, /^Fix: pin fastapi==0\.165\.1 or later/);
  const reviewer = page.locator("li.msg", { has: page.locator(".block.review") });
  assert.equal(await reviewer.locator(".who").textContent(), "Code reviewer");
  await block.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "50-review-findings.png") });

  // "deploy it": the tests pass, the review does not; the refusal names the finding.
  const refused = await say(page, id, "deploy it", 3);
  assert.equal(refused.status, "failed");
  assert.equal(refused.error.code, "review_failed");
  const reason = page.locator("li.msg", { hasText: "review found 1 high-severity issue(s)" }).last();
  await reason.waitFor();
  assert.match(await reason.textContent(), /requirements\.txt pip-audit\/GHSA-kiln-ui-0001/);
  await reason.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "51-review-refused.png") });

  // "deploy anyway": deployed, the override said by the reviewer and kept on the run.
  const deployed = await say(page, id, "ok, deploy it anyway", 4);
  assert.equal(deployed.status, "succeeded", JSON.stringify(deployed));
  assert.equal(deployed.review_override.version, 1);
  const said = page.locator("li.msg", { hasText: "Deploying version 1 over its review" });
  await said.waitFor();
  assert.equal(await said.locator(".who").textContent(), "Code reviewer");
  await page.locator(".block.links a", { hasText: "Open" }).last().waitFor();
  await page.locator("#messages li.msg").last().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "52-review-deployed-anyway.png") });

  assert.deepEqual(problems, []);
  await context.close();
});
