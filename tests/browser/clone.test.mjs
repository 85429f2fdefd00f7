// Cloning from the page: the Clone button's dialog (POST …/clone), and "clone this project as
// …" in the chat, whose reply opens the copy; against a real `kiln serve`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

const running = useServer("clone");

async function api(path) {
  const res = await fetch(`${running.base}/api/v2${path}`);
  assert.ok(res.ok, `GET ${path}: ${res.status}`);
  return res.json();
}

// Sends a message from the page and waits until the project's n runs have all ended.
async function say(page, projectId, text, n) {
  await page.fill("#message", text);
  await page.keyboard.press("Enter");
  for (let i = 0; ; i++) {
    const runs = (await api(`/projects/${projectId}/runs?limit=200`)).items;
    if (runs.length >= n && runs.every((r) => r.status === "succeeded" || r.status === "failed")) {
      assert.ok(runs.every((r) => r.status === "succeeded"), JSON.stringify(runs[0]));
      break;
    }
    assert.ok(i < 600, `"${text}" did not end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.waitForSelector("#message:not([disabled])");
}

const title = (page) => page.textContent("#project-title");
const sidebar = async (page) => (await page.locator("#projects .name").allTextContents()).sort();

test("a project is cloned from its button and from the chat", { timeout: 300_000 }, async () => {
  const { context, page, problems } = await openPage(running.browser, { width: 1400, height: 900 }, running.base);
  // Nothing open, nothing to clone.
  assert.equal(await page.isVisible("#clone-button"), false);
  await page.click("#new-project-button");
  await page.fill("#project-name", "Recipes");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Recipes");
  const original = new URL(page.url()).hash.split("/").pop();
  await say(page, original, "An API for recipes. Each recipe has a title and a cooking time in minutes", 1);
  await say(page, original, "build it", 2);
  const built = await api(`/projects/${original}`);
  assert.equal(built.current_version, 1);

  // The dialog offers "<name> (copy)"; a blank name is refused by the server, and said.
  await page.click("#clone-button");
  assert.equal(await page.inputValue("#clone-name"), "Recipes (copy)");
  await page.screenshot({ path: join(shots, "30-clone-dialog.png") });
  await page.fill("#clone-name", "   ");
  await page.click("#clone-form button[type=submit]");
  await page.waitForSelector("#clone-error:not([hidden])");
  assert.equal(await page.textContent("#clone-error"), "`name` must not be empty");
  assert.equal((await api("/projects")).items.length, 1, "nothing was made");

  // A name that looks like markup is a name: the page opens the copy under it, as text.
  const hostile = "<img src=x onerror=alert(1)> Recipes 2";
  await page.fill("#clone-name", hostile);
  await page.click("#clone-form button[type=submit]");
  await page.waitForFunction((name) => document.querySelector("#project-title").textContent === name, hostile);
  assert.equal(await page.isVisible("#clone-dialog"), false);
  const copy = new URL(page.url()).hash.split("/").pop();
  assert.notEqual(copy, original);
  assert.deepEqual(await sidebar(page), [hostile, "Recipes"].sort());
  assert.equal(await page.locator("#projects img").count(), 0);
  // Its conversation opens with the summary: what the original asked for, and its version 1.
  await page.waitForSelector("#messages li");
  assert.equal(await page.locator("#messages > li").count(), 1);
  const opening = page.locator("#messages > li").first();
  assert.match(await opening.textContent(), /This project is a copy of "Recipes": its spec and version 1's \d+ files/);
  assert.deepEqual(await opening.locator(".block ul").first().locator("li").allTextContents(),
    ["An API for recipes. Each recipe has a title and a cooking time in minutes"]);
  const files = (await api(`/projects/${copy}/versions/1`)).manifest.length;
  assert.match(await opening.locator(".block strong", { hasText: "Version 1" }).textContent(), new RegExp(`^Version 1: ${files} files`));
  await page.screenshot({ path: join(shots, "31-clone-opened.png") });

  // From the chat: the reply offers the copy, and opens it.
  await page.locator("#projects button", { hasText: /^Recipes/ }).filter({ hasNotText: "Recipes 2" }).click();
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Recipes");
  await say(page, original, "Great. Now clone this project as Recipes v3", 3);
  const open = page.locator("#messages button", { hasText: "Open Recipes v3" });
  await open.waitFor();
  await page.screenshot({ path: join(shots, "32-clone-chat.png") });
  await open.click();
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Recipes v3");
  await page.waitForFunction(() => document.querySelectorAll("#projects .name").length === 3);
  assert.deepEqual(await sidebar(page), [hostile, "Recipes", "Recipes v3"].sort());
  const third = await api(`/projects/${new URL(page.url()).hash.split("/").pop()}`);
  assert.equal(third.name, "Recipes v3");
  assert.deepEqual(third.spec, built.spec);
  await page.screenshot({ path: join(shots, "33-clone-from-chat.png") });
  // The browser logs the one refused request, the blank name; nothing else went wrong.
  assert.deepEqual(problems, ["console: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"]);
  await context.close();
});
