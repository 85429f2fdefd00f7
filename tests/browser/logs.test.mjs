// An environment's log in the side panel, against a real `kiln serve` and the app it deployed
// under uvicorn: the "Logs" button of a deployment shows the app's request lines, new
// requests are appended while the view is open, and closing it stops the polling.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

// No load test after the deploy: its 2,000 requests would push the rollout out of the page.
const running = useServer("logs", { KILN_LOAD_TEST_REQUESTS: "0" });

const { api, say } = running;

// Requests to the deployed app, one after the other, each with its own request id. The app
// logs a request once it has answered it whole, so each answer is read to its end first.
async function requests(app, list) {
  for (const [path, id] of list) {
    const res = await fetch(`${app}${path}`, { headers: { "X-Request-ID": id } });
    assert.equal(res.headers.get("x-request-id"), id);
    await res.text();
    // A line is written just after its answer: a moment apart, the lines keep this order.
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

// What each request row of the log says: [method, path, status]; not the smoke and load tests'
// calls after the deploy (request ids `kiln-smoke-…`, `kiln-load-…`).
const requestRows = (page) => page.locator("#log-lines > li.request").evaluateAll((lis) =>
  lis.filter((li) => !li.title.startsWith("request kiln-")).map((li) => [li.querySelector(".method").textContent, li.querySelector(".path").textContent, li.querySelector(".status").textContent]));

// The rows of this test's own requests: [request id, path, status].
const ours = (page) => page.locator("#log-lines > li.request").evaluateAll((lis) =>
  lis.filter((li) => li.title.startsWith("request ui-"))
    .map((li) => [li.title.slice("request ".length), li.querySelector(".path").textContent, li.querySelector(".status").textContent]));

test("a deployment's log shows its requests and follows new ones until closed", { timeout: 600_000 }, async () => {
  const project = await api("POST", "/projects", { name: "Logs check" });
  assert.equal((await say(project.id, "API for notes. Each note has a title")).status, "succeeded");
  assert.equal((await say(project.id, "deploy it")).status, "succeeded");
  const dev = (await api("GET", `/projects/${project.id}`)).deployments.find((d) => d.environment === "dev");
  const app = dev.url.replace(/\/$/, "");
  await requests(app, [["/notes", "ui-1"], ["/notes/404", "ui-2"]]);

  const { context, page, problems } = await openPage(running.browser, { width: 1400, height: 900 }, running.base);
  const polls = [];
  page.on("request", (r) => { if (r.url().includes("/deployments/dev/logs")) polls.push(r.url()); });
  await page.locator("#projects button", { hasText: "Logs check" }).click();
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Logs check");
  await page.click("#panel-toggle");
  await page.click("button[aria-label='Logs of dev']");
  await page.waitForFunction(() => document.querySelectorAll("#log-lines > li.request").length >= 3);
  assert.equal(await page.textContent("#logs-heading"), "Logs · dev");
  // Kiln's health check as it rolled the app out, then ours, oldest first; uvicorn's own
  // start-up lines as text.
  const smoke = await page.locator("#log-lines > li.request").evaluateAll((lis) =>
    lis.filter((li) => li.title.startsWith("request kiln-smoke-")).length);
  assert.equal(smoke, 7, "the smoke test's seven calls, marked as Kiln's by their request ids");
  const first = await requestRows(page);
  assert.deepEqual(first.filter(([, path]) => path !== "/health"), [["GET", "/notes", "200"], ["GET", "/notes/404", "404"]]);
  assert.deepEqual(first[0], ["GET", "/health", "200"]);
  assert.ok(await page.locator("#log-lines > li.raw").count() >= 1, "uvicorn's lines are shown as text");
  const notFound = page.locator("#log-lines > li.request").filter({ hasText: "/notes/404" });
  assert.equal(await notFound.getAttribute("class"), "log-line request s4xx");
  assert.equal(await notFound.getAttribute("title"), "request ui-2");
  assert.match(await notFound.locator(".duration").textContent(), /^\d+(\.\d)? ms$/);
  assert.ok(await notFound.locator("time").getAttribute("datetime"));
  await page.locator("#logs").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "40-logs-open.png") });

  // Requests made while the view is open are appended below, in order, without a reload.
  const before = await page.locator("#log-lines > li").count();
  // The last path is markup (sent encoded, logged as the app decoded it): it must stay text.
  await requests(app, [["/notes", "ui-3"], ["/docs", "ui-4"], ["/%3Cb%3Ex%3C%2Fb%3E", "ui-5"]]);
  await page.waitForFunction((n) => document.querySelectorAll("#log-lines > li").length >= n + 3, before, { timeout: 20_000 });
  assert.deepEqual(await ours(page), [["ui-1", "/notes", "200"], ["ui-2", "/notes/404", "404"],
    ["ui-3", "/notes", "200"], ["ui-4", "/docs", "200"], ["ui-5", "/<b>x</b>", "404"]], JSON.stringify(await requestRows(page)));
  assert.ok(polls.some((u) => u.includes("since=")), "followed with since");
  // The server's words are text: the rows hold only the page's own elements.
  assert.deepEqual(await page.locator("#log-lines *").evaluateAll((ns) => [...new Set(ns.map((n) => n.tagName))].sort()),
    ["LI", "SPAN", "TIME"]);
  await page.locator("#logs").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "41-logs-followed.png") });

  // Closed: hidden, and no more polling.
  await page.click("#log-close");
  assert.equal(await page.isVisible("#logs"), false);
  const asked = polls.length;
  await new Promise((resolve) => setTimeout(resolve, 7000));
  assert.equal(polls.length, asked, "no poll after closing");
  await page.locator("#deployments").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "42-logs-closed.png") });
  assert.deepEqual(problems, []);
  await context.close();
});
