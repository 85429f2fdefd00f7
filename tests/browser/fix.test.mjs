// "Fix it" from the page, against a real `kiln serve` and real pytest: a hand edit breaks the
// tests; the test report names each failure's cause and offers "Fix it"; the repair loop sets
// the edit aside and its repair becomes current.

import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { shots, openPage, useServer } from "./harness.mjs";

const running = useServer("fix");

test("a failing report names causes and its Fix it button repairs the version", { timeout: 600_000 }, async () => {
  const { context, page, problems } = await openPage(running.browser, { width: 1300, height: 1000 }, running.base);
  const project = await running.api("POST", "/projects", { name: "Fix check" });
  assert.equal((await running.say(project.id, "Build a REST API for managing tasks. Each task has a title")).status, "succeeded");
  assert.equal((await running.say(project.id, "build it")).status, "succeeded");
  // A hand edit that makes every create fail.
  const path = "app/routers/tasks.py";
  const res = await fetch(`${running.base}/api/v2/projects/${project.id}/versions/1/files/${path}`);
  const router = await res.text();
  const def = "def create_task(body: TaskCreate, session: SessionDep) -> Any:\n";
  assert.ok(router.includes(def));
  const broken = router.replace(def, `${def}    raise RuntimeError("a slip of mine")\n`);
  const edit = await running.api("PUT", `/projects/${project.id}/files/${path}`, { content: broken, message: "my slip" });
  assert.equal(edit.version.number, 2);
  assert.equal((await running.say(project.id, "run the tests")).status, "succeeded");

  await page.goto(`${running.base}/#/projects/${project.id}`);
  await page.reload();
  const report = page.locator(".block", { has: page.locator("strong.failed") }).last();
  await report.waitFor();
  assert.match(await report.locator("strong.failed").textContent(), /^Version 2: \d+ passed, [1-9]\d* failed/);
  const causes = await report.locator(".cause").allTextContents();
  assert.ok(causes.length > 0 && causes.every((c) => /^ RuntimeError at app\/routers\/tasks\.py:\d+$/.test(c)), JSON.stringify(causes));
  await page.screenshot({ path: join(shots, "85-fix-offered.png") });

  // The button sends "Fix it"; the run ends with the repair current.
  const runsBefore = (await running.api("GET", `/projects/${project.id}/runs?limit=200`)).items.length;
  await report.locator("button.fix-it").click();
  let run;
  for (let i = 0; ; i++) {
    const runs = (await running.api("GET", `/projects/${project.id}/runs?limit=200`)).items;
    if (runs.length > runsBefore && (runs[0].status === "succeeded" || runs[0].status === "failed")) {
      run = runs[0];
      break;
    }
    assert.ok(i < 3000, "the fix did not end");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(run.intent, "fix");
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  const now = await running.api("GET", `/projects/${project.id}`);
  assert.ok(now.current_version > 2, `current: ${now.current_version}`);
  const fixed = await (await fetch(`${running.base}/api/v2/projects/${project.id}/versions/${now.current_version}/files/${path}`)).text();
  assert.equal(fixed, router);
  await page.waitForSelector(".msg >> text=fixed it");
  await page.screenshot({ path: join(shots, "86-fixed.png") });
  assert.deepEqual(problems, []);
  await context.close();
});
