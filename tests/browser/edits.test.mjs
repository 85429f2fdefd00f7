// The user's own changes to a project's files, against a real `kiln serve`: a file of the
// current version edited in the page (highlighted, its diff reviewed before it is saved, a
// note), saved as a version by the user; a save on a version no longer current refused and
// taken again on top of the current one; then a build whose new code meets a hand edit it
// cannot merge, decided in the conversation's block.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

const running = useServer("edits");

const filePath = (path) => path.split("/").map(encodeURIComponent).join("/");

// A file of a version, as the API reads it.
async function file(projectId, version, path) {
  const res = await fetch(`${running.base}/api/v2/projects/${projectId}/versions/${version}/files/${filePath(path)}`);
  assert.ok(res.ok, `GET ${path} of version ${version}: ${res.status}`);
  return res.text();
}

// Sends a message from the page and waits for its run to end; answers the run.
async function say(page, projectId, text) {
  const before = (await running.api("GET", `/projects/${projectId}/runs?limit=200`)).items.length;
  await page.fill("#message", text);
  await page.keyboard.press("Enter");
  for (let i = 0; ; i++) {
    const runs = (await running.api("GET", `/projects/${projectId}/runs?limit=200`)).items;
    if (runs.length > before && (runs[0].status === "succeeded" || runs[0].status === "failed")) {
      await page.waitForSelector("#message:not([disabled])");
      return runs[0];
    }
    assert.ok(i < 3000, `"${text}" did not end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("a file edited, reviewed and saved as the user's version; a build's conflicts with it decided", { timeout: 600_000 }, async () => {
  const { context, page, problems } = await openPage(running.browser, { width: 1500, height: 1000 }, running.base);
  await page.click("#new-project-button");
  await page.fill("#project-name", "Edits check");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Edits check");
  const projectId = new URL(page.url()).hash.split("/").pop();
  assert.equal((await say(page, projectId, "Build a REST API for managing tasks. Each task has a title")).status, "succeeded");
  assert.equal((await say(page, projectId, "build it")).status, "succeeded");
  assert.equal((await running.api("GET", `/projects/${projectId}`)).current_version, 1);

  // The router of version 1, highlighted in the viewer, exactly as stored.
  const path = "app/routers/tasks.py";
  const original = await file(projectId, 1, path);
  await page.click("#panel-toggle");
  await page.click(`#file-tree button[data-path="${path}"]`);
  await page.waitForFunction((p) => document.querySelector("#viewer-title").textContent === `${p} (version 1)`
    && document.querySelector("#viewer").textContent.length > 0, path);
  await page.waitForFunction((t) => document.querySelector("#viewer").textContent === t, original);
  assert.ok(await page.locator("#viewer .tok-keyword").count() > 0, "Python keywords are highlighted");
  assert.ok(await page.locator("#viewer .tok-string").count() > 0, "strings are highlighted");
  assert.equal(await page.isEnabled("#edit-button"), true, "the current version's file can be edited");

  // Edit: the file's text, highlighted under the textarea; a line added at its end.
  await page.click("#edit-button");
  await page.waitForSelector("#editor-dialog[open]");
  assert.equal(await page.textContent("#editor-heading"), `Edit ${path} (version 1)`);
  assert.equal(await page.inputValue("#editor-text"), original);
  const added = "# Checked by hand: <img src=x onerror=\"window.__pwned=1\"> stays text";
  await page.focus("#editor-text");
  await page.keyboard.press("Control+End");
  await page.keyboard.type(`${added}\n`);
  const edited = `${original}${added}\n`;
  assert.ok(original.endsWith("\n"));
  assert.equal(await page.inputValue("#editor-text"), edited);
  await page.waitForFunction((t) => document.querySelector("#editor-highlight").textContent === `${t}\n`, edited);
  assert.ok(await page.locator("#editor-highlight .tok-comment", { hasText: "Checked by hand" }).count() === 1, "the new line is highlighted as a comment");

  // Reviewed before saving: one line added, nothing removed.
  await page.click("#editor-review");
  await page.waitForSelector("#editor-diff:not([hidden])");
  assert.deepEqual(await page.locator("#editor-diff span.add").allTextContents(), [`+${added}`]);
  assert.equal(await page.locator("#editor-diff span.del").count(), 0);
  assert.match(await page.locator("#editor-diff span.hunk").first().textContent(), /^@@ -\d+,\d+ \+\d+,\d+ @@$/);
  assert.equal(await page.locator("#editor-diff img, #editor-highlight img").count(), 0, "file contents are text");
  assert.equal((await running.api("GET", `/projects/${projectId}`)).current_version, 1, "nothing saved yet");
  await page.screenshot({ path: join(shots, "80-edit-reviewed.png") });

  // Saved with a note: version 2, by the user, current, and shown.
  await page.fill("#editor-note", "Checked the router");
  await page.click("#editor-save");
  await page.waitForFunction(() => !document.querySelector("#editor-dialog").open);
  await page.waitForFunction(() => document.querySelector("#version-select").value === "2"
    && document.querySelector("#viewer-title").textContent === "app/routers/tasks.py (version 2)");
  const option = await page.locator("#version-select option:checked").textContent();
  assert.equal(option, "Version 2 · current · by you: “Checked the router”");
  assert.equal(await page.locator("#version-select option").nth(1).textContent(), "Version 1");
  assert.match(await page.textContent("#version-about"), /^The current version, made by you on .+: “Checked the router”$/);
  await page.waitForFunction((t) => document.querySelector("#viewer").textContent === t, edited);
  await page.waitForFunction(() => /You changed `app\/routers\/tasks\.py` as version 2: “Checked the router”\./.test(document.querySelector("#messages").textContent));
  const v2 = await running.api("GET", `/projects/${projectId}/versions/2`);
  assert.equal(v2.author, "user");
  assert.equal(v2.note, "Checked the router");
  assert.equal((await running.api("GET", `/projects/${projectId}`)).current_version, 2);
  assert.equal(await file(projectId, 2, path), edited, "the file is saved exactly as edited");
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.screenshot({ path: join(shots, "81-edit-saved.png") });

  // A save on a version no longer current is refused, said, and taken again on the current one.
  await page.click("#edit-button");
  await page.waitForSelector("#editor-dialog[open]");
  await running.api("PUT", `/projects/${projectId}/files/NOTES.md`, { content: "# Notes\n", version: 2 });
  await page.focus("#editor-text");
  await page.keyboard.press("Control+Home");
  await page.keyboard.type("# First line by hand\n");
  await page.click("#editor-save");
  await page.waitForFunction(() => /^Not saved: version 3 is current now, not version 2/.test(document.querySelector("#editor-error").textContent));
  assert.equal(await page.isVisible("#editor-error button"), true, "a reload is offered");
  await page.screenshot({ path: join(shots, "82-edit-stale.png") });
  await page.click("#editor-error button");
  await page.waitForFunction(() => document.querySelector("#editor-heading").textContent === "Edit app/routers/tasks.py (version 3)");
  assert.equal(await page.inputValue("#editor-text"), `# First line by hand\n${edited}`, "the text typed is kept");
  await page.click("#editor-review");
  assert.deepEqual(await page.locator("#editor-diff span.add").allTextContents(), ["+# First line by hand"]);
  await page.click("#editor-save");
  await page.waitForFunction(() => !document.querySelector("#editor-dialog").open);
  await page.waitForFunction(() => document.querySelector("#version-select").value === "4");
  assert.equal(await file(projectId, 4, path), `# First line by hand\n${edited}`);
  assert.equal(await file(projectId, 4, "NOTES.md"), "# Notes\n", "the other change stays");

  // A new file, then deleted after a question in the page (never a browser prompt).
  await page.click("#new-file-button");
  await page.waitForSelector("#editor-dialog[open]");
  assert.equal(await page.textContent("#editor-heading"), "New file in version 4");
  await page.fill("#editor-path", "app/extra.py");
  await page.fill("#editor-text", "VALUE = 1\n");
  await page.waitForFunction(() => document.querySelector("#editor-highlight .tok-number")?.textContent === "1");
  await page.click("#editor-save");
  await page.waitForFunction(() => !document.querySelector("#editor-dialog").open);
  await page.waitForFunction(() => document.querySelector("#version-select").value === "5"
    && document.querySelector("#viewer-title").textContent === "app/extra.py (version 5)");
  assert.equal(await file(projectId, 5, "app/extra.py"), "VALUE = 1\n");
  await page.click("#delete-file-button");
  await page.waitForSelector("#delete-file-dialog[open]");
  assert.equal(await page.textContent("#delete-file-question"), "Delete app/extra.py? Version 6 is made without it; version 5 and those before keep it.");
  await page.fill("#delete-file-note", "not needed");
  await page.click("#delete-file-submit");
  await page.waitForFunction(() => document.querySelector("#version-select").value === "6"
    && !document.querySelector('#file-tree button[data-path="app/extra.py"]'));
  const v6 = await running.api("GET", `/projects/${projectId}/versions/6`);
  assert.deepEqual([v6.author, v6.note, v6.manifest.some((f) => f.path === "app/extra.py")], ["user", "not needed", false]);

  // A hand edit the next build cannot merge: the build waits for a decision.
  assert.equal((await say(page, projectId, "tasks have a priority")).status, "succeeded");
  const rebuilt = await say(page, projectId, "build it");
  assert.equal(rebuilt.status, "succeeded", JSON.stringify(rebuilt.error));
  const built = (await running.api("GET", `/projects/${projectId}`)).current_version;
  const schemas = await file(projectId, built, "app/schemas.py");
  const line = "    priority: _Int | None = None\n";
  assert.ok(schemas.includes(line), schemas);
  const byHand = schemas.replace(line, "    priority: _Int | None = None  # by hand\n");
  const put = await running.api("PUT", `/projects/${projectId}/files/app/schemas.py`, { content: byHand, message: "priority by hand", version: built });
  assert.equal(put.made, true);
  assert.equal((await say(page, projectId, "tasks also have a due date")).status, "succeeded");
  const failed = await say(page, projectId, "build it");
  assert.equal(failed.status, "failed");
  assert.equal(failed.error?.code, "merge_conflicts", JSON.stringify(failed.error));
  const pending = (await running.api("GET", `/projects/${projectId}/merge`)).merge;
  assert.ok(pending.conflicts.some((c) => c.path === "app/schemas.py"), JSON.stringify(pending.conflicts.map((c) => c.path)));

  // The block: the file, how it disagrees, the two sides side by side.
  const block = page.locator(".block.merge-conflicts").last();
  const conflict = block.locator('.conflict[data-path="app/schemas.py"]');
  await conflict.locator("button", { hasText: "Take generated" }).and(page.locator(":enabled")).waitFor();
  assert.equal(await conflict.locator(".path").textContent(), "app/schemas.py");
  assert.equal(await conflict.locator(".kind").textContent(), "changed by you and by Kiln in the same lines");
  const mine = (await conflict.locator(".side.mine pre").allTextContents()).join("\n");
  const generated = (await conflict.locator(".side.generated pre").allTextContents()).join("\n");
  assert.match(mine, /# by hand/);
  assert.match(generated, /due_date/);
  assert.deepEqual(await conflict.locator(".side h5").allTextContents(), Array(await conflict.locator(".hunk").count()).fill(["Yours", "Generated"]).flat());
  assert.equal(await block.locator(".make").isDisabled(), true, "nothing decided yet");
  await conflict.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "83-merge-conflicts.png") });

  // Edit opens both sides with conflict markers; the markers cannot stay.
  await conflict.locator("button", { hasText: "Edit" }).click();
  await page.waitForSelector("#editor-dialog[open]");
  assert.equal(await page.textContent("#editor-heading"), "Decide app/schemas.py");
  assert.match(await page.inputValue("#editor-text"), /^<<<<<<< yours$[\s\S]*# by hand[\s\S]*^=======$[\s\S]*due_date[\s\S]*^>>>>>>> generated$/m);
  await page.click("#editor-save");
  await page.waitForFunction(() => /is still a conflict marker/.test(document.querySelector("#editor-error").textContent));
  await page.click("#editor-cancel");
  await page.waitForFunction(() => !document.querySelector("#editor-dialog").open);

  // Taking the generated file decides it; every other conflicting file keeps the user's.
  await conflict.locator("button", { hasText: "Take generated" }).click();
  for (const c of pending.conflicts.filter((x) => x.path !== "app/schemas.py")) {
    await block.locator(`.conflict[data-path="${c.path}"] button`, { hasText: "Keep mine" }).click();
  }
  assert.equal(await conflict.locator(".decision").textContent(), "Your decision: take the generated file");
  assert.equal(await block.locator(".make").isEnabled(), true);
  await block.locator(".make").click();
  await page.waitForFunction(() => /^Decided: version \d+ was made from your decisions\.$/.test(
    [...document.querySelectorAll(".block.merge-conflicts .merge-state")].pop().textContent));
  const made = Number((await block.locator(".merge-state").textContent()).match(/version (\d+)/)[1]);
  const project = await running.api("GET", `/projects/${projectId}`);
  assert.equal(project.current_version, made);
  assert.equal(project.merge, undefined, "no merge waits any more");
  const version = await running.api("GET", `/projects/${projectId}/versions/${made}`);
  assert.equal(version.author, "user");
  const merged = await file(projectId, made, "app/schemas.py");
  assert.match(merged, /due_date/);
  assert.doesNotMatch(merged, /# by hand/);
  assert.equal(await block.locator("button:enabled").count(), 0, "a decided block takes no more decisions");
  await page.waitForFunction((n) => new RegExp(`Version ${n} is ready: the new code merged with your changes`).test(document.querySelector("#messages").textContent), made);
  await block.scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "84-merge-decided.png") });

  // Opened again, the block reads that nothing waits and offers no decision.
  await page.reload();
  // (Earlier pages of the conversation are read until the block is shown.)
  await page.waitForFunction(() => document.querySelectorAll("#messages > li.msg").length > 0);
  while (!await page.locator(".block.merge-conflicts").count() && await page.isVisible("#earlier")) {
    await page.click("#earlier");
    await page.waitForFunction(() => !document.querySelector("#earlier")?.disabled);
  }
  await page.locator(".block.merge-conflicts .merge-state", { hasText: "Already decided" }).waitFor();
  assert.equal(await page.locator(".block.merge-conflicts button:enabled").count(), 0);
  assert.deepEqual(problems, ["console: Failed to load resource: the server responded with a status of 409 (Conflict)"]);
  await context.close();
});
