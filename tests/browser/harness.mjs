// What the browser tests share: `kiln serve` on a free loopback port, Debian's headless
// Chromium, and a page that records every console error, page error and browser dialog.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { after, before } from "node:test";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const here = dirname(fileURLToPath(import.meta.url));
export const shots = join(here, "..", "screenshots");
mkdirSync(shots, { recursive: true });

// Starts a program that prints a URL, and answers { child, url } once it has.
export function startPrinting(bin, args, env, pattern, what) {
  const child = spawn(bin, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} printed no URL`)), 60_000);
    child.on("error", reject);
    child.stdout.on("data", (chunk) => {
      const m = String(chunk).match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
  });
}

// The tests' stand-in of the vulnerability database the reviews' pip-audit asks (the
// `fake-osv` binary of tests/fake_osv.rs), knowing `advisories` ("name==version:ID:fixed").
// It ends when this process does (it reads its standard input until it closes), and does not
// keep this process alive.
export async function startOsv(advisories = []) {
  const bin = process.env.FAKE_OSV_BIN || join(here, "..", "..", "target", "debug", "fake-osv");
  const child = spawn(bin, advisories, { stdio: ["pipe", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fake-osv printed no URL")), 60_000);
    child.on("error", reject);
    child.stdout.on("data", (chunk) => {
      const m = String(chunk).match(/^(http:\/\/\S+)\s/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  child.stdout.destroy();
  child.stdin.unref?.();
  child.unref();
  return url;
}

// `kiln serve` with `extra` settings; its reviews ask a stand-in database that knows of no
// vulnerability unless `extra` names one (KILN_OSV_URL), never the network.
export async function startServer(extra, data) {
  const bin = process.env.KILN_BIN || join(here, "..", "..", "target", "debug", "kiln");
  const osv = extra.KILN_OSV_URL || await startOsv();
  return startPrinting(bin, ["serve"], {
    KILN_OSV_URL: osv,
    ...extra,
    PATH: process.env.PATH, HOME: process.env.HOME || homedir(),
    KILN_BIND: "127.0.0.1:0", KILN_DATA_DIR: data, RUST_LOG: "warn",
    KILN_VENV_DIR: process.env.KILN_TEST_VENV_DIR || join(homedir(), ".cache/kiln/runtime-venv"),
    KILN_PIPELINE_TIME_SCALE: "0.25",
  }, /Kiln is running at (http:\/\/\S+?)\/?\s/, "kiln serve");
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export async function openPage(browser, viewport, at) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // The page never asks with a browser prompt (one would block it).
  page.on("dialog", (d) => { problems.push(`browser dialog: ${d.message()}`); d.dismiss(); });
  await page.goto(at + "/");
  return { context, page, problems };
}

// One test file's `kiln serve` (on a data directory of its own, with `env` added to its
// settings) and browser: started before the file's tests, stopped and removed after them.
// `base` and `browser` are set once started.
export function useServer(name, env = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), `kiln-ui-${name}-`));
  const ctx = { base: null, browser: null, server: null };
  before(async () => {
    ({ child: ctx.server, url: ctx.base } = await startServer(env, dataDir));
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    ctx.server?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });
  // A call to the server's API that must succeed; answers its JSON.
  ctx.api = async (method, path, body) => {
    const res = await fetch(`${ctx.base}/api/v2${path}`, {
      method, headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  // Posts a message as the API's client would and waits for its run to end; answers the run.
  ctx.say = async (projectId, content) => {
    const { run } = await ctx.api("POST", `/projects/${projectId}/messages`, { content });
    for (let i = 0; ; i++) {
      const now = await ctx.api("GET", `/projects/${projectId}/runs/${run.id}`);
      if (now.status === "succeeded" || now.status === "failed") return now;
      if (i >= 3000) throw new Error(`"${content}" did not end`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return ctx;
}
