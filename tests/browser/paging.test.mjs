// The UI's lists a page at a time, against a real `kiln serve`: the projects in the sidebar (50
// at a time, "More projects", and a search the server answers, which finds what the first page
// does not hold), a conversation longer than a page (opened at its newest message, "Show
// earlier messages" bringing those before it in order, where the reader was), and the versions
// select ("More versions").

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

const running = useServer("paging");
// What the page asks for at a time.
const PAGE = 50;

const open = () => openPage(running.browser, { width: 1400, height: 900 }, running.base);

// The names the sidebar shows, in order.
const listed = (page) => page.locator("#projects .name").allTextContents();
// The ids of the messages shown, in order.
const shownIds = (page) => page.locator("#messages > li.msg").evaluateAll((lis) => lis.map((li) => li.dataset.id));

test("the projects, 50 at a time, and a search the server answers", { timeout: 120_000 }, async () => {
  // The oldest project, which the first page does not hold, then 55 more.
  const names = ["Greenhouse sensors"];
  for (let i = 1; i <= 55; i++) names.push(`Project ${String(i).padStart(2, "0")}`);
  for (const name of names) await running.api("POST", "/projects", { name });
  const newestFirst = [...names].reverse();

  const { context, page, problems } = await open();
  await page.waitForFunction(() => document.querySelectorAll("#projects .name").length > 0);
  assert.deepEqual(await listed(page), newestFirst.slice(0, PAGE));
  assert.ok(await page.isVisible("#projects-more"), "a button for the rest");
  await page.screenshot({ path: join(shots, "70-projects-first-page.png") });

  // "More projects" adds the rest below, then is gone.
  await page.click("#projects-more");
  await page.waitForFunction((n) => document.querySelectorAll("#projects .name").length === n, names.length);
  assert.deepEqual(await listed(page), newestFirst);
  assert.equal(await page.isVisible("#projects-more"), false);
  await page.locator("#projects li").last().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "71-projects-all.png") });
  await context.close();

  // A page that holds only the first 50 finds the oldest project: the server searched.
  const fresh = await open();
  await fresh.page.waitForFunction((n) => document.querySelectorAll("#projects .name").length === n, PAGE);
  assert.ok(!(await listed(fresh.page)).includes("Greenhouse sensors"));
  const asked = fresh.page.waitForRequest((r) => {
    const url = new URL(r.url());
    return url.pathname === "/api/v2/projects" && url.searchParams.get("q") === "GREENHOUSE";
  });
  await fresh.page.fill("#search", "GREENHOUSE");
  await asked;
  await fresh.page.waitForFunction(() => [...document.querySelectorAll("#projects .name")]
    .map((n) => n.textContent).join("|") === "Greenhouse sensors");
  assert.equal(await fresh.page.isVisible("#projects-more"), false);
  await fresh.page.screenshot({ path: join(shots, "72-projects-searched.png") });
  await fresh.page.click("#projects button");
  await fresh.page.waitForFunction(() => document.querySelector("#project-title").textContent === "Greenhouse sensors");

  // A search with more matches than a page is paged the same way.
  await fresh.page.fill("#search", "project");
  await fresh.page.waitForFunction((n) => document.querySelectorAll("#projects .name").length === n
    && !document.querySelector("#projects-more").hidden, PAGE);
  assert.deepEqual(await listed(fresh.page), newestFirst.slice(0, PAGE));
  await fresh.page.click("#projects-more");
  await fresh.page.waitForFunction(() => document.querySelectorAll("#projects .name").length === 55);
  assert.deepEqual(await listed(fresh.page), newestFirst.filter((n) => n.startsWith("Project")));
  assert.equal(await fresh.page.isVisible("#projects-more"), false);

  // Nothing matches, and it says so; cleared, the newest page is back.
  await fresh.page.fill("#search", "100%_");
  await fresh.page.waitForFunction(() => document.querySelector("#projects").textContent === "No project matches");
  await fresh.page.fill("#search", "");
  await fresh.page.waitForFunction((n) => document.querySelectorAll("#projects .name").length === n
    && !document.querySelector("#projects-more").hidden, PAGE);
  assert.deepEqual(await listed(fresh.page), newestFirst.slice(0, PAGE));
  assert.deepEqual(problems.concat(fresh.problems), []);
  await fresh.context.close();
});

test("a conversation longer than a page opens at its newest message", { timeout: 300_000 }, async () => {
  const { id } = await running.api("POST", "/projects", { name: "A long conversation" });
  // 28 questions, each with its answer: more messages than a page.
  for (let i = 1; i <= 28; i++) await running.say(id, `What can you do? (${i})`);
  const all = (await running.api("GET", `/projects/${id}/conversation?limit=200`)).items;
  assert.ok(all.length > PAGE && all.length <= 2 * PAGE, `${all.length} messages`);

  const { context, page, problems } = await open();
  await page.locator("#projects button", { hasText: "A long conversation" }).click();
  await page.waitForFunction((n) => document.querySelectorAll("#messages > li.msg").length === n, PAGE);
  // The newest page, oldest first, scrolled to its end, with the button at its top.
  assert.deepEqual(await shownIds(page), all.slice(-PAGE).map((m) => m.id));
  assert.equal(await page.locator("#messages > li").first().locator("#earlier").count(), 1);
  const end = await page.$eval("#messages", (box) => box.scrollHeight - box.scrollTop - box.clientHeight);
  assert.ok(end <= 1, `${end}px below what is shown`);
  assert.ok(await page.locator("#messages > li.msg").last().isVisible());
  await page.screenshot({ path: join(shots, "73-conversation-newest.png") });

  // The button brings the messages before, in order, and what was at the top stays put.
  const first = all[all.length - PAGE].id;
  await page.locator("#earlier").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "74-conversation-earlier-button.png") });
  const top = () => page.$eval(`#messages li[data-id="${first}"]`, (li) => li.getBoundingClientRect().top);
  const before = await top();
  await page.click("#earlier");
  await page.waitForFunction((n) => document.querySelectorAll("#messages > li.msg").length === n, all.length);
  assert.deepEqual(await shownIds(page), all.map((m) => m.id));
  assert.equal(await page.locator("#earlier").count(), 0, "nothing earlier is left");
  const after = await top();
  assert.ok(Math.abs(after - before) <= 1, `the reader's place moved from ${before}px to ${after}px`);
  await page.screenshot({ path: join(shots, "75-conversation-earlier.png") });
  // Above it, the conversation from its first message.
  await page.$eval("#messages", (box) => { box.scrollTop = 0; });
  assert.equal(await page.textContent("#messages > li.msg .content"), "What can you do? (1)");
  await page.screenshot({ path: join(shots, "76-conversation-beginning.png") });

  // A message sent now joins the end, and the earlier pages stay shown.
  await page.fill("#message", "What can you do? (29)");
  await page.keyboard.press("Enter");
  await page.waitForFunction((n) => document.querySelectorAll("#messages > li.msg").length === n, all.length + 2);
  await page.waitForSelector("#message:not([disabled])");
  const now = (await running.api("GET", `/projects/${id}/conversation?limit=200`)).items;
  assert.deepEqual(await shownIds(page), now.map((m) => m.id));
  assert.deepEqual(problems, []);
  await context.close();
});

test("the versions select, a page at a time", { timeout: 300_000 }, async () => {
  const { id } = await running.api("POST", "/projects", { name: "Many versions" });
  for (const text of ["Build a REST API for managing notes", "Build it", "Notes also have a due date", "Build it",
    "Notes also have a priority from 1 to 5", "Build it"]) {
    assert.equal((await running.say(id, text)).status, "succeeded", text);
  }
  const { context, page, problems } = await open();
  // The page asks for 50 versions at a time; the server is asked for 2 here, so that three
  // versions make two pages, each read with the cursor the server handed out.
  await page.route(/\/api\/v2\/projects\/[^/]+\/versions\?/, (route) => {
    const url = new URL(route.request().url());
    assert.equal(url.searchParams.get("limit"), String(PAGE));
    url.searchParams.set("limit", "2");
    return route.continue({ url: url.toString() });
  });
  const options = () => page.locator("#version-select option").evaluateAll((os) => os.map((o) => o.value));
  await page.locator("#projects button", { hasText: "Many versions" }).click();
  await page.click("#panel-toggle");
  await page.waitForFunction(() => document.querySelectorAll("#version-select option").length === 2);
  assert.deepEqual(await options(), ["3", "2"]);
  assert.equal(await page.inputValue("#version-select"), "3");
  assert.ok(await page.isVisible("#versions-more"));
  await page.screenshot({ path: join(shots, "77-versions-first-page.png") });
  await page.click("#versions-more");
  await page.waitForFunction(() => document.querySelectorAll("#version-select option").length === 3);
  assert.deepEqual(await options(), ["3", "2", "1"]);
  assert.equal(await page.inputValue("#version-select"), "3", "the chosen version stays chosen");
  assert.equal(await page.isVisible("#versions-more"), false);
  await page.selectOption("#version-select", "1");
  await page.waitForFunction(() => document.querySelector("#viewer-title").textContent.endsWith("(version 1)"));

  // A version older than the first page, asked for from the conversation, is listed and shown.
  await page.selectOption("#version-select", "3");
  await page.waitForFunction(() => document.querySelector("#viewer-title").textContent.endsWith("(version 3)"));
  await page.click("#panel-toggle");
  await page.locator("#messages button", { hasText: "Browse version 1" }).click();
  await page.waitForFunction(() => document.querySelector("#version-select").value === "1"
    && document.querySelector("#viewer-title").textContent.endsWith("(version 1)"));
  assert.deepEqual(await options(), ["3", "2", "1"]);
  await page.screenshot({ path: join(shots, "78-versions-all.png") });
  assert.deepEqual(problems, []);
  await context.close();
});
