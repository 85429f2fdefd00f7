// Sign-in with an OpenID Connect provider in the real browser: `kiln serve` in OIDC mode
// against the tests' fake provider (the `fake-oidc` binary of tests/fake_oidc.rs, which speaks
// the provider's side of the authorization code flow with PKCE, refresh and sign-out).

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shots, here, launchBrowser, openPage, startPrinting, startServer } from "./harness.mjs";

const CLIENT = "kiln-web";
// Short-lived ID tokens, so that the page must refresh them while the test watches.
const TTL_SECS = 12;
const dataDir = mkdtempSync(join(tmpdir(), "kiln-ui-oidc-"));
let provider, issuer, server, base, browser;

before(async () => {
  const bin = process.env.FAKE_OIDC_BIN || join(here, "..", "..", "target", "debug", "fake-oidc");
  ({ child: provider, url: issuer } = await startPrinting(bin, [CLIENT, String(TTL_SECS)],
    { PATH: process.env.PATH }, /^(http:\/\/\S+)\s/, "fake-oidc"));
  ({ child: server, url: base } = await startServer({ KILN_OIDC_ISSUER: issuer, KILN_OIDC_AUDIENCE: CLIENT }, dataDir));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
  provider?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

const counts = async () => (await fetch(`${issuer}/_counts`)).json();

// Signs in on the provider's page as one of its users, from a page showing the sign-in.
async function signInAs(page, email) {
  await page.waitForSelector("#sign-in-dialog[open] #oidc-sign-in:not([hidden])");
  await page.click("#sign-in-submit");
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/authorize?`));
  const asked = new URL(page.url()).searchParams;
  assert.equal(asked.get("code_challenge_method"), "S256");
  assert.equal(asked.get("redirect_uri"), `${base}/`);
  await page.click(`button:has-text("Sign in as ${email}")`);
  await page.waitForURL((u) => u.href.startsWith(base));
  await page.waitForFunction((who) => document.querySelector("#who").textContent === `Signed in as ${who}`, email);
}

async function newProject(page, name) {
  await page.click("#new-project-button");
  await page.fill("#project-name", name);
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction((n) => document.querySelector("#project-title").textContent === n, name);
}

const listed = (page) => page.locator("#projects .name").allTextContents();

test("people sign in with the provider, each sees only their projects, and the session is refreshed and ended", { timeout: 180_000 }, async () => {
  const alice = await openPage(browser, { width: 1400, height: 900 }, base);
  const apiAnswers = [];
  alice.page.on("response", (r) => { if (r.url().startsWith(`${base}/api/v2/`)) apiAnswers.push(`${r.status()} ${r.url()}`); });
  // Signed out, the page asks to sign in with the provider, and nothing else.
  await alice.page.waitForSelector("#sign-in-dialog[open]");
  assert.equal(await alice.page.textContent("#provider"), new URL(issuer).host);
  assert.equal(await alice.page.isVisible("#token"), false, "no token field");

  await alice.page.click("#sign-in-submit");
  await alice.page.waitForURL((u) => u.href.startsWith(`${issuer}/authorize?`));
  assert.ok(await alice.page.isVisible('button:has-text("Sign in as alice@example.com")'));
  await alice.page.screenshot({ path: join(shots, "12-provider-sign-in.png") });
  await alice.page.goBack();
  await signInAs(alice.page, "alice@example.com");
  // Back on the page with the code traded for tokens: none of it in the address, the session
  // in this tab's storage only.
  assert.equal(new URL(alice.page.url()).search, "");
  const session = await alice.page.evaluate(() => JSON.parse(sessionStorage.getItem("kiln-oidc")));
  assert.equal(session.claims.email, "alice@example.com");
  assert.equal(await alice.page.evaluate(() => localStorage.length), 0);
  assert.equal((await counts()).code_grants, 1);

  await newProject(alice.page, "Alice's greenhouse");
  await alice.page.screenshot({ path: join(shots, "13-signed-in.png") });

  // The ID token lives 12 s: the page refreshes it before it expires, and every call keeps
  // working with the new one.
  const first = session.id_token;
  await alice.page.waitForFunction((old) => JSON.parse(sessionStorage.getItem("kiln-oidc")).id_token !== old, first, { timeout: 30_000 });
  await alice.page.waitForFunction((old) => JSON.parse(sessionStorage.getItem("kiln-oidc")).id_token !== old,
    await alice.page.evaluate(() => JSON.parse(sessionStorage.getItem("kiln-oidc")).id_token), { timeout: 30_000 });
  assert.ok((await counts()).refresh_grants >= 2, JSON.stringify(await counts()));
  await alice.page.reload();
  await alice.page.waitForFunction(() => document.querySelector("#who").textContent === "Signed in as alice@example.com");
  await alice.page.waitForFunction(() => document.querySelector("#projects").textContent.includes("Alice's greenhouse"));
  assert.ok(apiAnswers.length > 3 && apiAnswers.every((a) => !a.startsWith("401")), apiAnswers.join("\n"));

  // Bob, in another browser, sees none of Alice's projects, and Alice none of his.
  const bob = await openPage(browser, { width: 1400, height: 900 }, base);
  await signInAs(bob.page, "bob@example.com");
  await bob.page.waitForFunction(() => /No projects yet/.test(document.querySelector("#projects").textContent));
  await newProject(bob.page, "Bob's bikes");
  assert.deepEqual(await listed(bob.page), ["Bob's bikes"]);
  await alice.page.reload();
  await alice.page.waitForFunction(() => document.querySelector("#projects").textContent.includes("Alice's greenhouse"));
  assert.deepEqual(await listed(alice.page), ["Alice's greenhouse"]);

  // Signing out ends the session here and at the provider, and comes back asking to sign in.
  await alice.page.click("#sign-out");
  await alice.page.waitForURL((u) => u.href.startsWith(base));
  await alice.page.waitForSelector("#sign-in-dialog[open] #oidc-sign-in:not([hidden])");
  assert.equal(await alice.page.evaluate(() => sessionStorage.getItem("kiln-oidc")), null);
  assert.equal(await alice.page.textContent("#projects"), "");
  assert.equal((await counts()).logouts, 1);

  assert.deepEqual(alice.problems, []);
  assert.deepEqual(bob.problems, []);
  await alice.context.close();
  await bob.context.close();
});

test("a session whose refresh is refused ends in place, asking to sign in again", { timeout: 90_000 }, async () => {
  const { context, page, problems } = await openPage(browser, { width: 1400, height: 900 }, base);
  await signInAs(page, "bob@example.com");
  // The provider forgets the refresh token (as when a session is revoked there).
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem("kiln-oidc"));
    s.refresh_token = "revoked";
    sessionStorage.setItem("kiln-oidc", JSON.stringify(s));
  });
  await page.waitForSelector("#sign-in-dialog[open] #oidc-sign-in:not([hidden])", { timeout: 30_000 });
  assert.match(await page.textContent("#sign-in-error"), /session has ended/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("kiln-oidc")), null);
  await page.screenshot({ path: join(shots, "14-session-ended.png") });
  // The provider's refusal of the refresh is the one failed load.
  assert.ok(problems.length === 1 && /status of 400/.test(problems[0]), problems.join("\n"));
  await context.close();
});
