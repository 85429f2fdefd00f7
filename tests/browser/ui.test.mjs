// The web UI in Debian's headless Chromium, driven by playwright-core, against a real
// `kiln serve` that this test starts on a free loopback port and stops at the end.

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as harness from "./harness.mjs";
import { shots, launchBrowser } from "./harness.mjs";

const dataDir = mkdtempSync(join(tmpdir(), "kiln-ui-"));
let server, base, browser;

const startServer = (extra = {}, data = dataDir) => harness.startServer(extra, data);

before(async () => {
  ({ child: server, url: base } = await startServer());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

const openPage = (viewport = { width: 1400, height: 900 }, at = base) => harness.openPage(browser, viewport, at);

/// Kiln's API, from the test itself (not through the page).
async function api(method, path, body) {
  const res = await fetch(`${base}/api/v2${path}`, {
    method, headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  return res.headers.get("content-type")?.includes("json") ? res.json() : res.text();
}

async function projectNamed(name) {
  const page = await api("GET", "/projects?limit=100");
  const p = page.items.find((x) => x.name === name);
  assert.ok(p, `no project ${name}`);
  return p;
}

async function say(page, text, done, arg = null) {
  await page.fill("#message", text);
  await page.keyboard.press("Enter");
  await page.waitForFunction(done, arg, { timeout: 300_000 });
  await page.waitForSelector("#message:not([disabled])");
}

test("describe, build, test and deploy a project in the browser", { timeout: 600_000 }, async () => {
  const { context, page, problems } = await openPage();
  // In the page: whether at least `n` replies of the architect are shown.
  const architects = (n) => [...document.querySelectorAll(".msg .who")].filter((w) => w.textContent === "Architect").length >= n;

  // A new project, from the keyboard: the dialog opens, takes the name and the description.
  // The description is the first requirement: it opens the conversation and is read at once.
  await page.focus("#new-project-button");
  await page.keyboard.press("Enter");
  assert.ok(await page.isVisible("#new-project-dialog"));
  await page.keyboard.type("Task Management API");
  await page.fill("#project-description", "Build a REST API for managing tasks");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Task Management API");
  assert.equal(await page.isVisible("#new-project-dialog"), false);
  await page.waitForFunction(architects, 1, { timeout: 300_000 });
  await page.waitForSelector("#message:not([disabled])");
  const opening = await page.locator(".msg.user").first().textContent();
  assert.match(opening, /Build a REST API for managing tasks/);
  assert.match(await page.textContent("#messages"), /resource `tasks`/);
  assert.match(await page.textContent("#messages"), /GET \/tasks/);

  // Hostile text in a message is shown as text, never as markup.
  await say(page, "what does <b>not bold</b> mean?", () => document.querySelectorAll(".msg").length >= 5);
  assert.equal(await page.locator("#messages b").count(), 0);
  assert.match(await page.textContent("#messages"), /<b>not bold<\/b>/);

  // The plan's walkthrough: authentication and a database, then fields for the tasks.
  await say(page, "Add user authentication", architects, 2);
  await say(page, "Add database support", architects, 3);
  await say(page, "Tasks have a title, a description and a due date", architects, 4);
  const plan = await page.textContent("#messages");
  assert.match(plan, /POST \/tasks/);
  assert.match(plan, /POST \/auth\/login/);
  await page.screenshot({ path: join(shots, "1-planned.png") });

  // The suggestions follow the project; "Build it" is one of them now.
  await page.click("#suggestions >> text=Build it");
  await page.waitForFunction(() => /Version 1 is ready/.test(document.querySelector("#messages").textContent), null, { timeout: 300_000 });
  await page.waitForSelector("#message:not([disabled])");
  await page.screenshot({ path: join(shots, "2-built.png") });

  await say(page, "Run the tests", () => document.querySelector(".block .passed, .block .failed"));
  const report = await page.textContent(".block .passed");
  // As many passed as the version's test files define, counted here from the files.
  const project = await projectNamed("Task Management API");
  const v1 = await api("GET", `/projects/${project.id}/versions/1`);
  let defined = 0;
  for (const f of v1.manifest.filter((f) => /^tests\/test_.*\.py$/.test(f.path))) {
    const source = await api("GET", `/projects/${project.id}/versions/1/files/${f.path}`);
    defined += (source.match(/^(async )?def test_/gm) || []).length;
  }
  assert.ok(defined > 0, "the version has tests");
  assert.match(report, new RegExp(`Version 1: ${defined} passed, 0 failed, 0 errors`), report);
  await page.screenshot({ path: join(shots, "3-tested.png") });

  await say(page, "Deploy it", () => [...document.querySelectorAll(".block.links a")].length > 0);
  assert.match(await page.getAttribute(".block.links a", "href"), /^http:\/\/127\.0\.0\.1:\d+\//);
  await page.screenshot({ path: join(shots, "4-deployed.png") });

  // The project panel: a file of version 1, and the deployment.
  await page.click("#panel-toggle");
  await page.click('#file-tree button[data-path="app/routers/tasks.py"]');
  await page.waitForFunction(() => /def create_task/.test(document.querySelector("#viewer").textContent));
  assert.match(await page.textContent("#viewer-title"), /app\/routers\/tasks\.py \(version 1\)/);
  const router = await page.textContent("#viewer");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  assert.equal(download.suggestedFilename(), "task-management-api-v1.zip");
  // The archive holds the version: every file of its manifest, the router as the viewer showed it.
  const zipped = JSON.parse(execFileSync("python3", ["-c",
    "import sys, zipfile, json; z = zipfile.ZipFile(sys.argv[1]); print(json.dumps({n: z.read(n).decode() for n in z.namelist()}))",
    await download.path()]).toString());
  const names = Object.keys(zipped).map((n) => n.replace(/^[^/]+\//, ""));
  assert.deepEqual(names.sort(), v1.manifest.map((f) => f.path).sort());
  assert.equal(Object.entries(zipped).find(([n]) => n.endsWith("app/routers/tasks.py"))[1], router);
  const deployment = await page.getAttribute("#deployments a", "href");
  assert.match(deployment, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  await page.screenshot({ path: join(shots, "5-files.png") });

  // The panel's history: the deployment, running at its link, and the run that made it on top.
  const [deployed] = (await api("GET", `/projects/${project.id}/deployments`)).items;
  const row = page.locator("#history-deployments > li");
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  assert.deepEqual(await row.locator(".environment, .version, .status").allTextContents(), ["dev", "version 1", "running"]);
  assert.equal(await row.locator("a").getAttribute("href"), deployment);
  assert.equal(await row.locator("a").textContent(), deployment);
  assert.equal(await row.locator("time").getAttribute("datetime"), deployed.created_at);
  assert.equal(await page.isVisible("#history-deployments-more"), false);
  assert.deepEqual(await page.locator("#history-runs > li").first().locator(".intent, .status").allTextContents(), ["deploy", "succeeded"]);
  await page.locator("#history").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "22-history-deployed.png") });

  // The deployment link opens the running app, whose root leads to its interactive docs.
  const [app] = await Promise.all([context.waitForEvent("page"), page.click(".block.links a")]);
  await app.waitForLoadState();
  assert.equal(app.url(), `${deployment}docs`);
  const health = await app.evaluate(async () => (await fetch("health")).json());
  assert.deepEqual(health, { status: "ok" });
  // The app's own OpenAPI document names it (its /docs page needs a CDN, so it is not used here).
  const doc = await app.evaluate(async () => (await fetch("openapi.json")).json());
  assert.equal(doc.info.title, "Task Management API");
  assert.ok(doc.paths["/tasks"], JSON.stringify(Object.keys(doc.paths)));
  assert.ok(doc.paths["/auth/login"], JSON.stringify(Object.keys(doc.paths)));
  await app.screenshot({ path: join(shots, "6-app.png") });
  await app.close();

  // A second version, and its changes against the first: the new field added, nothing else.
  await page.click("#panel-toggle");
  await say(page, "Tasks also have a priority from 1 to 5", () => /field `task\.priority`/.test(document.querySelector("#messages").textContent));
  await say(page, "Build it", () => /Version 2 is ready/.test(document.querySelector("#messages").textContent));
  await page.click("#panel-toggle");
  await page.waitForFunction(() => [...document.querySelectorAll("#version-select option")].some((o) => o.value === "2"));
  await page.selectOption("#version-select", "2");
  await page.waitForFunction(() => /\(version 2\)/.test(document.querySelector("#viewer-title").textContent));
  await page.click("#diff-button");
  await page.waitForFunction(() => /Changes in version 2/.test(document.querySelector("#viewer-title").textContent));
  const added = await page.locator("#viewer span.add").allTextContents();
  const removed = await page.locator("#viewer span.del").allTextContents();
  assert.ok(added.some((l) => /^\+.*priority/.test(l)), added.join(""));
  assert.ok(added.some((l) => /^\+\+\+ b\//.test(l)) && removed.some((l) => /^--- a\//.test(l)), "a unified diff");
  // Only lines of what changed: nothing about tasks' other fields is removed.
  assert.ok(!removed.some((l) => /^-[^-].*due_date/.test(l)), removed.join(""));
  assert.deepEqual(problems, []);
  await context.close();
});

test("hostile text in a project's name and messages stays text", async () => {
  const name = `<img src=x onerror="window.__pwned=1"><b>bold</b> ${Date.now()}`;
  await api("POST", "/projects", { name });
  const { context, page, problems } = await openPage();
  await page.fill("#search", "bold");
  await page.click("#projects button >> nth=0");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent.includes("<b>bold</b>"));
  await say(page, "what does <script>window.__pwned=2</script> do?", () => document.querySelectorAll(".msg:not(.user)").length >= 1);
  for (const where of ["#projects", "#project-title", "#messages"]) {
    assert.equal(await page.locator(`${where} b, ${where} img, ${where} script`).count(), 0, where);
  }
  assert.match(await page.textContent("#projects"), /<img src=x/);
  assert.match(await page.textContent("#messages"), /<script>window.__pwned=2<\/script>/);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(problems, []);
  await context.close();
});

test("readable at a phone's width, with no console errors", async () => {
  // A project of its own, so that this test needs no other to have run first.
  const name = `Phone check ${Date.now()}`;
  await api("POST", "/projects", { name, description: "An API for plants with a name" });
  const long = `Inventory management for the northwestern regional warehouses ${Date.now()}`;
  await api("POST", "/projects", { name: long });
  const { context, page, problems } = await openPage({ width: 390, height: 844 });
  await page.fill("#search", name);
  await page.click("#projects button");
  await page.waitForSelector("#messages .msg");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
  await page.screenshot({ path: join(shots, "7-narrow.png"), fullPage: true });

  // A long name wraps between words or is cut with an ellipsis, never in the middle of a word.
  await page.fill("#search", "northwestern");
  await page.click("#projects button");
  await page.waitForFunction((n) => document.querySelector("#project-title").textContent === n, long);
  for (const where of ["#projects .name", "#project-title"]) {
    const shown = await page.evaluate((sel) => {
      const node = document.querySelector(sel);
      const text = node.firstChild;
      const tops = [];
      for (let i = 0; i < text.length; i++) {
        const r = document.createRange();
        r.setStart(text, i);
        r.setEnd(text, i + 1);
        const rect = r.getClientRects()[0];
        tops.push(rect ? Math.round(rect.top) : null);
      }
      const midWord = [];
      for (let i = 1; i < text.length; i++) {
        const a = text.data[i - 1], b = text.data[i];
        if (tops[i] !== tops[i - 1] && a !== " " && b !== " ") midWord.push(text.data.slice(Math.max(0, i - 8), i + 8));
      }
      const style = getComputedStyle(node);
      return { midWord, cut: node.scrollWidth > node.clientWidth, ellipsis: style.textOverflow === "ellipsis", title: node.getAttribute("title") };
    }, where);
    assert.deepEqual(shown.midWord, [], `${where} breaks a word`);
    if (shown.cut) {
      assert.ok(shown.ellipsis, `${where} is cut without an ellipsis`);
      assert.equal(shown.title, long, `${where} shows the whole name on hover`);
    }
  }
  const overflowLong = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflowLong <= 1, `a long name makes the page scroll sideways by ${overflowLong}px`);
  await page.screenshot({ path: join(shots, "11-narrow-long-name.png"), fullPage: true });
  // Search filters the sidebar.
  await page.fill("#search", "no such project");
  assert.equal(await page.locator("#projects button").count(), 0);
  await page.fill("#search", name.toLowerCase());
  assert.equal(await page.locator("#projects button").count(), 1);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a bad name is refused in place", async () => {
  const { context, page, problems } = await openPage();
  await page.click("#new-project-button");
  await page.fill("#project-name", "   ");
  await page.click("#new-project button[type=submit]");
  await page.waitForSelector("#new-project-error:not([hidden])");
  assert.match(await page.textContent("#new-project-error"), /must not be empty/);
  await page.keyboard.press("Escape");
  assert.equal(await page.isVisible("#new-project-dialog"), false);
  // The refused request logs one failed load in the console; nothing else may.
  assert.ok(problems.every((p) => /status of 422/.test(p)), problems.join("\n"));
  await context.close();
});

test("a question instead of a guess, answered with a button", { timeout: 120_000 }, async () => {
  const { context, page, problems } = await openPage();
  await page.click("#new-project-button");
  await page.fill("#project-name", "Bakery orders");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Bakery orders");
  await say(page, "orders have a pickup date and line items", () => document.querySelector(".block.question"));
  assert.match(await page.textContent(".block.question strong"), /line items/);
  // Nothing was invented while the question is open.
  assert.doesNotMatch(await page.textContent("#messages"), /resource `line_items`/);
  await page.screenshot({ path: join(shots, "8-question.png") });
  await page.click(".block.question button >> text=separate");
  await page.waitForFunction(() => /resource `line_items`/.test(document.querySelector("#messages").textContent), null, { timeout: 60_000 });
  await page.waitForSelector("#message:not([disabled])");
  assert.match(await page.textContent("#messages"), /each `line_item` belongs to an `order`/);
  await page.screenshot({ path: join(shots, "9-answered.png") });
  assert.deepEqual(problems, []);
  await context.close();
});

test("a server with a token asks for it in the page, and says so in place when it is wrong", { timeout: 120_000 }, async () => {
  const data = mkdtempSync(join(tmpdir(), "kiln-ui-token-"));
  const token = "a-long-server-token-0123456789";
  const { child, url } = await startServer({ KILN_TOKEN: token }, data);
  try {
    const { context, page, problems } = await openPage({ width: 1400, height: 900 }, url);
    await page.waitForSelector("#sign-in-dialog[open]");
    assert.equal(await page.isVisible("#sign-in-error"), false);
    await page.fill("#token", "not-the-token");
    await page.click("#sign-in button[type=submit]");
    await page.waitForSelector("#sign-in-error:not([hidden])");
    assert.match(await page.textContent("#sign-in-error"), /not this server's/);
    assert.ok(await page.isVisible("#sign-in-dialog"), "still asking");
    assert.equal(await page.evaluate(() => localStorage.getItem("kiln-token")), null, "a wrong token is not kept");
    await page.screenshot({ path: join(shots, "10-wrong-token.png") });

    await page.fill("#token", token);
    await page.click("#sign-in button[type=submit]");
    await page.waitForSelector("#sign-in-dialog", { state: "hidden" });
    await page.waitForFunction(() => /No projects yet/.test(document.querySelector("#projects").textContent));
    assert.ok(await page.isVisible("#sign-out"));
    // Signed in, the page works: a project made here is listed.
    await page.click("#new-project-button");
    await page.fill("#project-name", "Behind a token");
    // The page looks once for the opening message's run after a create; that look is not
    // one of the idle looks counted below, however late a loaded machine makes it.
    const openingLook = page.waitForResponse((r) => /\/conversation\?limit=1$/.test(r.url()));
    await page.click("#new-project button[type=submit]");
    await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Behind a token");
    await openingLook;

    // Without an event stream (a token rules it out), the page asks only for what changed:
    // every 10 s while nothing runs, and never for the whole conversation again.
    await page.waitForLoadState("networkidle");
    const asked = [];
    page.on("request", (r) => { if (r.url().includes("/conversation")) asked.push(r.url()); });
    await page.waitForTimeout(11_000);
    assert.ok(asked.length >= 1 && asked.length <= 2, `${asked.length} looks in 11 idle seconds:\n${asked.join("\n")}`);
    assert.ok(asked.every((u) => u.includes("after=")), asked.join("\n"));
    // A message's reply arrives through those changes, while its run goes.
    asked.length = 0;
    await page.fill("#message", "what can you do?");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll("#messages .msg.assistant").length >= 1, null, { timeout: 60_000 });
    await page.waitForSelector("#message:not([disabled])");
    assert.ok(asked.length >= 1 && asked.every((u) => u.includes("after=")), asked.join("\n"));
    assert.equal(await page.locator("#messages .msg.user").count(), 1, "the message is shown once");

    // Signing out forgets the token and asks again; nothing of the project stays on screen.
    await page.click("#sign-out");
    await page.waitForSelector("#sign-in-dialog[open]");
    assert.equal(await page.evaluate(() => localStorage.getItem("kiln-token")), null);
    assert.equal(await page.textContent("#projects"), "");
    // The refused token logs one failed load; nothing else may.
    assert.ok(problems.every((p) => /status of 401/.test(p)), problems.join("\n"));
    await context.close();
  } finally {
    child.kill();
    rmSync(data, { recursive: true, force: true });
  }
});
