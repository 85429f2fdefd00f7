// What reading messages with a language model costs, in the page: `kiln serve` with
// KILN_LLM=openai against the tests' fake provider (the `fake-llm` binary of tests/fake_llm.rs),
// which answers the first message with openai/recipes.http, the second with openai/reviews.http
// and the third with openai/auth.http (a refused key, so the rules read it instead).

import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shots, here, launchBrowser, openPage, startPrinting, startServer } from "./harness.mjs";

const FIXTURES = ["openai/recipes.http", "openai/reviews.http", "openai/auth.http"];
const MODEL = "gpt-4o-mini";
// US dollars per million tokens, as the server is told.
const INPUT_PRICE = 0.15;
const OUTPUT_PRICE = 0.6;

// The tokens a fixture's answer counts, read from the fixture itself.
function fixtureTokens(name) {
  const text = readFileSync(join(here, "..", "fixtures", "llm", name), "utf8");
  const usage = JSON.parse(text.slice(text.indexOf("\n\n") + 2)).usage;
  return { input: usage.prompt_tokens, output: usage.completion_tokens };
}
// What tokens cost at the prices above, in whole millionths of a dollar (as the server keeps it).
const micros = (t) => Math.round(t.input * INPUT_PRICE + t.output * OUTPUT_PRICE);
const shown = {
  tokens: (t) => `${t.input.toLocaleString("en-US")} in / ${t.output.toLocaleString("en-US")} out tokens`,
  dollars: (m) => `$${(m / 1e6).toFixed(6)}`,
};

const dataDir = mkdtempSync(join(tmpdir(), "kiln-ui-llm-"));
let provider, server, base, browser;

before(async () => {
  const bin = process.env.FAKE_LLM_BIN || join(here, "..", "..", "target", "debug", "fake-llm");
  let url;
  ({ child: provider, url } = await startPrinting(bin, FIXTURES, { PATH: process.env.PATH },
    /^(http:\/\/\S+)\s/, "fake-llm"));
  ({ child: server, url: base } = await startServer({
    KILN_LLM: "openai", KILN_LLM_MODEL: MODEL, KILN_LLM_BASE_URL: `${url}/v1`,
    KILN_LLM_API_KEY: "sk-test-not-a-real-key-3f9a",
    KILN_LLM_INPUT_PRICE: String(INPUT_PRICE), KILN_LLM_OUTPUT_PRICE: String(OUTPUT_PRICE),
  }, dataDir));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill();
  provider?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

// Sends a message and waits for its run to end, with `n` usage blocks shown.
async function say(page, text, n) {
  await page.fill("#message", text);
  await page.keyboard.press("Enter");
  await page.waitForFunction((k) => document.querySelectorAll(".msg .block.usage").length >= k, n, { timeout: 120_000 });
  await page.waitForSelector("#message:not([disabled])", { timeout: 120_000 });
}

// Waits for `selector`'s text to be `expected`, and says what it was if it never is.
async function expectText(page, selector, expected) {
  await page.waitForFunction(([s, e]) => document.querySelector(s)?.textContent === e, [selector, expected], { timeout: 30_000 })
    .catch(() => {});
  assert.equal(await page.textContent(selector), expected, selector);
}

// The usage line of the n-th usage block (from 1), split at its separators.
async function usageLine(page, n) {
  const block = page.locator(".msg .block.usage").nth(n - 1);
  // Under the product manager's reply, which it belongs to.
  assert.equal(await block.locator("xpath=ancestor::li[contains(@class, 'msg')]/span[@class='who']").textContent(), "Product manager");
  return (await block.locator(".cost").textContent()).split(" · ");
}

test("each reply read by the model shows what it cost, the rules' stand-in says why, and the project adds it up", { timeout: 300_000 }, async () => {
  const recipes = fixtureTokens("openai/recipes.http");
  const reviews = fixtureTokens("openai/reviews.http");
  const { context, page, problems } = await openPage(browser, { width: 1400, height: 900 }, base);
  await page.click("#new-project-button");
  await page.fill("#project-name", "Recipe box");
  await page.click("#new-project button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#project-title").textContent === "Recipe box");
  // Nothing read by a model yet: no total.
  assert.equal(await page.isVisible("#model-usage"), false);

  // The first message: the model's patch makes `recipe`.
  await say(page, "Recipes have a title", 1);
  assert.match(await page.textContent("#messages"), /resource `recipes`, field `recipe\.title`/);
  const [who, model, calls, tokens, cost, latency, ...rest] = await usageLine(page, 1);
  assert.deepEqual([who, model, calls, tokens, cost, rest], ["openai", MODEL, "1 call", shown.tokens(recipes), shown.dollars(micros(recipes)), []]);
  // The fixture is answered after 800 ms.
  assert.match(latency, /^\d+\.\d s$/);
  assert.ok(parseFloat(latency) >= 0.8, latency);
  assert.equal(await page.locator(".block.usage .fallback").count(), 0);
  await expectText(page, "#model-usage",
    `Language model: 1 call · ${shown.tokens(recipes)} · ${shown.dollars(micros(recipes))} · 0 fallbacks to the rules`);
  await page.screenshot({ path: join(shots, "15-model-usage.png") });

  // The second: reviews that belong to recipes, as the model read them.
  await say(page, "Each recipe has reviews with a rating and a comment", 2);
  assert.match(await page.textContent("#messages"), /resource `reviews`/);
  const second = await usageLine(page, 2);
  assert.deepEqual(second.slice(0, 5), ["openai", MODEL, "1 call", shown.tokens(reviews), shown.dollars(micros(reviews))]);
  assert.match(second[5], /^\d+\.\d s$/);
  const both = { input: recipes.input + reviews.input, output: recipes.output + reviews.output };
  const total = micros(recipes) + micros(reviews);
  await expectText(page, "#model-usage", `Language model: 2 calls · ${shown.tokens(both)} · ${shown.dollars(total)} · 0 fallbacks to the rules`);

  // The third: the provider refuses the key, the rules read the message, and the reply says why.
  await say(page, "Recipes also have a cooking time in minutes", 3);
  const reply = page.locator(".msg.assistant:has(.block.usage)").nth(2);
  assert.match(await reply.locator(".content").textContent(), /Note: I read this with the rules instead of gpt-4o-mini \(openai\)/);
  const third = await usageLine(page, 3);
  assert.deepEqual(third.slice(0, 5), ["openai", MODEL, "0 calls", "0 in / 0 out tokens", "$0.00"]);
  const note = reply.locator(".block.usage .fallback");
  assert.ok(await note.isVisible(), "the fallback is shown");
  assert.match(await note.textContent(), /^Read by the rules: the provider refused the credentials: Incorrect API key provided/);
  // Set apart from the usage line above it.
  const looks = await note.evaluate((n) => {
    const line = getComputedStyle(n.previousElementSibling), own = getComputedStyle(n);
    return { border: own.borderLeftStyle, own: own.backgroundColor, line: line.backgroundColor };
  });
  assert.equal(looks.border, "solid");
  assert.notEqual(looks.own, looks.line);
  // The provider's words are text: the blocks hold nothing but their lines.
  assert.deepEqual(await page.locator(".block.usage *").evaluateAll((ns) => [...new Set(ns.map((n) => n.tagName))]), ["P"]);
  await page.screenshot({ path: join(shots, "16-model-fallback.png") });

  // The project's total counts the fallback; nothing was spent on it.
  const expected = `Language model: 2 calls · ${shown.tokens(both)} · ${shown.dollars(total)} · 1 fallback to the rules`;
  await expectText(page, "#model-usage", expected);
  // Opened again, the page shows the same from what the server kept.
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll(".msg .block.usage").length === 3);
  await expectText(page, "#model-usage", expected);
  assert.equal(await page.locator(".block.usage .fallback").count(), 1);
  await page.screenshot({ path: join(shots, "17-model-usage-total.png") });
  // The panel's history: each run with what its reading cost, newest first.
  await page.click("#panel-toggle");
  await page.waitForFunction(() => document.querySelectorAll("#history-runs > li").length === 3);
  assert.deepEqual(await page.locator("#history-runs .cost").allTextContents(), [
    `openai · ${MODEL} · $0.00 (read by the rules)`,
    `openai · ${MODEL} · ${shown.dollars(micros(reviews))}`,
    `openai · ${MODEL} · ${shown.dollars(micros(recipes))}`,
  ]);
  await page.locator("#history").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, "23-history-costs.png") });
  await page.click("#panel-toggle");
  // At a phone's width the lines wrap; nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px`);
  await page.screenshot({ path: join(shots, "18-model-usage-narrow.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
