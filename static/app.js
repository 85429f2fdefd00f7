// Kiln's web UI: projects on the left, the conversation in the middle, files, deployments
// and the project's history on the right. User text is only ever set through textContent, never
// as HTML.

import * as signin from "./signin.js";
import { createConversation } from "./conversation.js";
import { createHistory } from "./history.js";
import { createLogs } from "./logs.js";
import { renderReview } from "./review.js";
import { renderLoadTest } from "./loadtest.js";
import { createProjectList } from "./projects.js";
import { createVersions } from "./versions.js";
import { createEditor } from "./editor.js";
import { renderMergeConflicts } from "./merge.js";

const api = "/api/v2";
const $ = (id) => document.getElementById(id);
const state = { current: null, project: null, events: null, after: null };

// ------------------------------------------------------------------ HTTP

// How this server wants callers to sign in (GET /auth/config): "none", "token" (a server
// token typed in the page, kept in localStorage) or "oidc" (the provider's sign-in page).
const auth = { mode: "none", oidc: null };

function bearer() {
  return auth.mode === "oidc" ? signin.idToken() : localStorage.getItem("kiln-token");
}

function authHeaders() {
  const token = bearer();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function request(method, path, body) {
  const send = () => {
    const headers = { accept: "application/json", ...authHeaders() };
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  let res = await send();
  // An ID token that expired while the tab slept is refreshed once, and the request repeated.
  if (res.status === 401 && auth.mode === "oidc" && await signin.refresh(auth.oidc)) {
    signin.keepFresh(auth.oidc, signedOut);
    res = await send();
  }
  if (res.status === 401) {
    signedOut(auth.mode === "oidc"
      ? "Your session has ended; sign in again."
      : "The server no longer accepts your token; sign in again.");
    throw new Error("Sign in to continue.");
  }
  return res;
}

// ------------------------------------------------------------------ signing in

async function signInConfig() {
  const res = await fetch(`${api}/auth/config`, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`The server did not say how to sign in (HTTP ${res.status}).`);
  return res.json();
}

// Shows the sign-in, once: a token field, or a button to the provider's page.
function askToSignIn(message) {
  showError(message ? new Error(message) : null, $("sign-in-error"));
  $("sign-out").hidden = true;
  $("who").hidden = true;
  const oidc = auth.mode === "oidc";
  $("token-sign-in").hidden = oidc;
  $("token").disabled = oidc;
  $("oidc-sign-in").hidden = !oidc;
  if (oidc) $("provider").textContent = new URL(auth.oidc.issuer).host;
  if (!$("sign-in-dialog").open) {
    $("sign-in").reset();
    $("sign-in-dialog").showModal();
  }
  (oidc ? $("sign-in-submit") : $("token")).focus();
}

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (auth.mode === "oidc") {
    $("sign-in-submit").disabled = true;
    await signin.beginSignIn(auth.oidc, location.hash).catch((err) => {
      $("sign-in-submit").disabled = false;
      showError(err, $("sign-in-error"));
    });
    return;
  }
  const token = $("token").value.trim();
  // Checked before it is kept: a wrong token is said here, and nothing else is asked again.
  const res = await fetch(`${api}/projects?limit=1`, { headers: { accept: "application/json", authorization: `Bearer ${token}` } })
    .catch(() => null);
  if (!res || res.status === 401) {
    showError(new Error(res ? "That token is not this server's. Check it and try again." : "The server cannot be reached."), $("sign-in-error"));
    $("token").select();
    return;
  }
  localStorage.setItem("kiln-token", token);
  $("sign-in-dialog").close();
  await show().catch(showError);
});
// The page is of no use signed out: Escape does not close the sign-in.
$("sign-in-dialog").addEventListener("cancel", (event) => event.preventDefault());

// Leaves the page as a signed-out visitor sees it, and asks to sign in.
function signedOut(message) {
  localStorage.removeItem("kiln-token");
  if (auth.mode === "oidc") signin.signOut(null);
  if (state.events) state.events.close();
  clearTimeout(follower.timer);
  Object.assign(state, { current: null, project: null, events: null, after: null });
  projectList.clear();
  conversation.clear();
  editor.close();
  versions.clear();
  $("composer").hidden = true;
  $("panel").hidden = true;
  $("panel-toggle").hidden = true;
  $("clone-button").hidden = true;
  projectHistory.clear();
  projectLogs.clear();
  $("model-usage").hidden = true;
  $("project-title").textContent = "Pick or create a project";
  $("project-title").removeAttribute("title");
  history.replaceState(null, "", "#");
  askToSignIn(message);
}

$("sign-out").addEventListener("click", () => {
  // At the provider too, which sends the browser back here signed out.
  if (auth.mode === "oidc" && signin.signOut(auth.oidc)) return;
  signedOut();
});

async function call(method, path, body) {
  const res = await request(method, path, body);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(data.error ? data.error.message : `HTTP ${res.status}`);
    err.status = res.status;
    err.code = data.error ? data.error.code : null;
    throw err;
  }
  return data;
}

async function text(path) {
  const res = await request("GET", path);
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new Error(data.error ? data.error.message : `HTTP ${res.status}`);
  }
  return res.text();
}

// ------------------------------------------------------------------ helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function showError(err, box = $("error")) {
  box.hidden = !err;
  box.textContent = err ? String(err.message || err) : "";
}

// Numbers as people read them: 2,412 tokens, $0.000594 (to the millionth the server keeps,
// no zeros past the cents), 0.8 s.
const count = (n) => Number(n || 0).toLocaleString("en-US");
const counted = (n, one, many) => `${count(n)} ${n === 1 ? one : many}`;
const dollars = (usd) => `$${Number(usd || 0).toFixed(6).replace(/(\.\d\d\d*?)0+$/, "$1")}`;
const usd = (x) => `$${Number(x || 0).toFixed(Number(x) > 0 && Number(x) < 0.01 ? 4 : 2)}`;
const seconds = (ms) => `${(Number(ms || 0) / 1000).toFixed(1)} s`;
const tokens = (u) => `${count(u.input_tokens)} in / ${count(u.output_tokens)} out tokens`;

const stepLabel = (name) => name.replace(/([a-z])([A-Z])/g, "$1 $2").replace("Dev Ops", "DevOps").replace("Qa ", "QA ");
const safeUrl = (url) => /^https?:\/\//.test(url);

const current = () => state.current;
const projectHistory = createHistory({ call, el, current, stepLabel, safeUrl, dollars, showError });
const projectLogs = createLogs({ call, el, current, showError });
const projectList = createProjectList({ call, el, current, open: (id) => openProject(id).catch(showError), showError });
const conversation = createConversation({ call, el, current, render: (m) => renderMessage(m), showError });
const editor = createEditor({ el });
const versions = createVersions({ api, call, text, request, bearer, el, current, project: () => state.project, editor, changed: () => changed(), showError });

// The project and its conversation read again after a change made outside a run: a file
// edited, a merge's conflicts decided (the version `made` shown).
async function changed(made) {
  if (made) versions.select(made);
  await Promise.all([loadConversation(), refreshProject()]);
}

// ------------------------------------------------------------------ projects

const loadProjects = () => projectList.reload();

$("new-project-button").addEventListener("click", () => {
  showError(null, $("new-project-error"));
  $("new-project").reset();
  $("new-project-dialog").showModal();
  $("project-name").focus();
});
$("new-project-cancel").addEventListener("click", () => $("new-project-dialog").close());
$("new-project").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const project = await call("POST", "/projects", { name: $("project-name").value, description: $("project-description").value });
    $("new-project-dialog").close();
    await openProject(project.id);
    // A description is the first requirement: the conversation opens with it, and its run is
    // followed like one of a message sent here.
    const opening = (await call("GET", `/projects/${project.id}/conversation?limit=1`)).items[0];
    if (opening && opening.run_id) await watch(() => followRun(opening.run_id));
  } catch (err) { showError(err, $("new-project-error")); }
});

// A copy of the open project (POST …/clone), named "<name> (copy)" unless the user says.
$("clone-button").addEventListener("click", () => {
  showError(null, $("clone-error"));
  $("clone-name").value = `${state.project.name.slice(0, 93).trimEnd()} (copy)`;
  $("clone-dialog").showModal();
  $("clone-name").select();
});
$("clone-cancel").addEventListener("click", () => $("clone-dialog").close());
$("clone-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const copy = await call("POST", `/projects/${state.current}/clone`, { name: $("clone-name").value });
    $("clone-dialog").close();
    await openProject(copy.id);
    await loadProjects();
  } catch (err) { showError(err, $("clone-error")); }
});

// ------------------------------------------------------------------ conversation

function renderBlock(block) {
  const box = el("div", { class: "block" });
  if (block.type === "plan") {
    box.append(el("strong", { text: block.title }), el("ul", {}, ...block.items.map((i) => el("li", { text: i }))));
  } else if (block.type === "spec_diff") {
    const lines = [...block.added.map((a) => `+ ${a}`), ...block.removed.map((r) => `− ${r}`), ...block.changed.map((c) => `~ ${c}`)];
    box.append(el("ul", {}, ...lines.map((l) => el("li", { text: l }))));
  } else if (block.type === "question") {
    // The answers the product manager offers, as buttons that reply with them.
    box.classList.add("question");
    box.append(el("strong", { text: block.text }),
      el("div", { class: "options" }, ...block.options.map((o) => el("button", { type: "button", text: o, onclick: () => send(o) }))));
  } else if (block.type === "cost") {
    // What the version would cost a month on AWS, line by line, and the confirmation a deploy
    // to prod or over budget waits for, offered as a button that says it.
    const e = block.estimate;
    box.classList.add("cost");
    box.append(el("strong", { text: `${block.environment}, version ${block.version}: about ${usd(e.monthly_usd)} a month on AWS (${e.region}, prices of ${e.prices_date})` }));
    if (!e.billed) box.append(el("p", { class: "free", text: "Deployed here, it runs on this machine for free." }));
    box.append(el("table", {}, el("tbody", {}, ...e.items.map((i) =>
      el("tr", {}, el("th", { scope: "row", text: i.name }), el("td", { text: i.detail }), el("td", { class: "usd", text: usd(i.monthly_usd) }))))));
    box.append(el("p", { class: "assumptions", text: `Assumed: ${e.assumptions.join("; ")}.` }));
    if (block.reasons && block.reasons.length) box.append(el("p", { class: "reasons", role: "note", text: `Waiting for your confirmation: ${block.reasons.join("; ")}.` }));
    if (block.confirm) {
      box.append(el("div", { class: "options" }, el("button", { type: "button", class: "primary", text: `Yes, deploy to ${block.environment}`, onclick: () => send(block.confirm) })));
    }
  } else if (block.type === "project") {
    // Another project of the same owner, such as the copy a clone made: opened here.
    box.classList.add("links");
    box.append(el("button", { type: "button", text: `Open ${block.name}`, onclick: () => openProject(block.project_id).then(loadProjects).catch(showError) }));
  } else if (block.type === "link" && safeUrl(block.url)) {
    box.classList.add("links");
    box.append(el("a", { href: block.url, target: "_blank", rel: "noopener", text: `Open ${block.label}` }));
  } else if (block.type === "file_list") {
    const open = el("button", { type: "button", text: `Browse version ${block.version}`, onclick: () => showPanel(block.version) });
    box.append(el("strong", { text: `Version ${block.version}: ${block.files.length} files ` }), open);
  } else if (block.type === "usage") {
    // What reading the message with a language model cost, and why the rules answered if they did.
    const u = block.usage;
    box.classList.add("usage");
    box.append(el("p", { class: "cost", text: [u.provider, u.model, counted(u.calls, "call", "calls"), tokens(u), dollars(u.cost_usd), seconds(u.latency_ms)].join(" · ") }));
    if (u.fallback) box.append(el("p", { class: "fallback", role: "note", text: `Read by the rules: ${u.fallback}` }));
  } else if (block.type === "load_test") {
    renderLoadTest(box, block, el);
  } else if (block.type === "test_report") {
    const r = block.report;
    const ok = r.failed === 0 && r.errors === 0 && !r.timed_out;
    box.append(el("strong", { class: ok ? "passed" : "failed", text: `Version ${block.version}: ${r.passed} passed, ${r.failed} failed, ${r.errors} errors${r.timed_out ? " (timed out)" : ""}` }));
    if (r.failures.length) {
      // Each failure with what raised where, when the traceback said.
      const cause = (f) => (f.cause ? [el("span", { class: "cause", text: ` ${f.cause.exception} at ${f.cause.file}:${f.cause.line}` })] : []);
      box.append(el("ul", {}, ...r.failures.map((f) => el("li", {}, el("details", { open: "" }, el("summary", {}, el("code", { text: f.name }), ...cause(f)), el("pre", { text: f.message }))))));
    }
    if (r.omitted_failures) {
      box.append(el("p", { class: "omitted", text: `${r.omitted_failures} more failing tests are not listed.` }));
    }
    // The current version's failing tests can be handed to the repair loop.
    if (!ok && state.project && state.project.current_version === block.version) {
      box.append(el("button", { type: "button", class: "fix-it", text: "Fix it", onclick: () => send("Fix it") }));
    }
  } else if (block.type === "review") {
    renderReview(box, block, el);
  } else if (block.type === "merge_conflicts") {
    renderMergeConflicts(box, block, { el, call, text, current, editor, changed });
  }
  return box;
}

const AGENTS = {
  product_manager: "Product manager", architect: "Architect", backend_developer: "Backend developer",
  qa_engineer: "QA engineer", devops_engineer: "DevOps engineer", documentation_writer: "Documentation writer",
  code_reviewer: "Code reviewer",
};

function renderMessage(m) {
  const who = m.role === "assistant" ? AGENTS[m.agent] || "Assistant" : m.role === "user" ? "You" : "Kiln";
  // A notice without a run is of a change the user made (a file edited, conflicts decided).
  const change = m.role === "system" && !m.run_id ? " change" : "";
  return el("li", { class: `msg ${m.role}${change}`, "data-id": m.id }, el("span", { class: "who", text: who }), el("span", { class: "content", text: m.content }), ...m.blocks.map(renderBlock));
}

// The conversation's newest page: the whole of it for a project just opened (`opened`), else
// merged into what is shown. Its mark: from here on, only what changes is asked for.
async function loadConversation(opened) {
  const mark = await (opened ? conversation.open() : conversation.refresh());
  if (mark === undefined) return;
  state.after = mark;
  scheduleFollow(10_000);
}

function appendMessage(m) {
  if ($("messages").querySelector(`li.msg[data-id="${CSS.escape(m.id)}"]`)) return;
  $("messages").append(renderMessage(m));
  $("messages").scrollTop = $("messages").scrollHeight;
}

function showProgress(run) {
  const box = $("progress");
  if (!run || run.status === "succeeded") { box.hidden = true; return; }
  box.hidden = false;
  const steps = run.steps.map((s) => el("li", { class: s.status, text: stepLabel(s.name) }));
  if (!steps.length) steps.push(el("li", { class: "running", text: "Starting" }));
  box.replaceChildren(el("ol", {}, ...steps));
  if (run.status === "failed") box.hidden = true;
}

function suggestionsFor(project) {
  switch (project.status) {
    case "new": return ["Build a REST API for managing tasks", "Each task has a title, a due date and a done flag"];
    case "specified": return ["Add user authentication", "Add database support", "Build it"];
    case "built": return ["Run the tests", "Deploy it"];
    case "tested": return ["Deploy it", "Deploy it to staging"];
    default: return ["Deploy it to staging", "What endpoints does it have?", "Roll back"];
  }
}

function renderSuggestions() {
  const items = state.project ? suggestionsFor(state.project) : [];
  $("suggestions").replaceChildren(...items.map((s) => el("button", { type: "button", text: s, onclick: () => send(s) })));
}

// ------------------------------------------------------------------ following without a stream

// Without an event stream (a server behind a token, or on AWS), the page asks for what changed
// since its last look (`?after=`): every second while a run goes, every 10 s otherwise, and
// not at all while the tab is hidden. The newest page is read once, when it opens.
const follower = { timer: null, waiting: new Map() };

function scheduleFollow(delay) {
  clearTimeout(follower.timer);
  if (state.events || !state.after || document.hidden) return;
  follower.timer = setTimeout(() => followOnce().catch(() => scheduleFollow(10_000)), delay);
}

async function followOnce() {
  const projectId = state.current;
  const changes = await call("GET", `/projects/${projectId}/conversation?after=${encodeURIComponent(state.after)}`);
  if (projectId !== state.current) return;
  state.after = changes.after;
  for (const m of changes.items) appendMessage(m);
  const runs = changes.runs || [];
  const going = runs.filter((r) => r.status === "queued" || r.status === "running");
  const ended = runs.filter((r) => r.status === "succeeded" || r.status === "failed");
  if (going.length) showProgress(going[going.length - 1]);
  for (const r of ended) {
    const done = follower.waiting.get(r.id);
    if (done) { follower.waiting.delete(r.id); done(r); }
  }
  if (ended.length && !follower.waiting.size) await refreshProject();
  // One more look soon after a run ends, for a reply written just after its status.
  scheduleFollow(going.length || ended.length || follower.waiting.size ? 1000 : 10_000);
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) clearTimeout(follower.timer);
  else scheduleFollow(0);
});

// Follows a run until it ends: from the event stream when it is open, from the changes the
// page asks for otherwise.
async function followRun(runId) {
  if (!state.events && state.after) {
    const run = await new Promise((resolve) => { follower.waiting.set(runId, resolve); scheduleFollow(0); });
    showProgress(run);
    return;
  }
  const projectId = state.current;
  for (;;) {
    const run = await call("GET", `/projects/${projectId}/runs/${runId}`);
    if (projectId !== state.current) return;
    showProgress(run);
    if (!state.events) await loadConversation();
    if (run.status === "succeeded" || run.status === "failed") return;
    await new Promise((resolve) => setTimeout(resolve, state.events ? 1500 : 700));
  }
}

function subscribe(projectId) {
  if (state.events) state.events.close();
  state.events = null;
  // An event stream cannot carry a token: signed in, the page follows by asking.
  if (bearer() || !window.EventSource) return;
  const source = new EventSource(`${api}/projects/${projectId}/events`);
  source.addEventListener("message", (e) => { if (state.current === projectId) appendMessage(JSON.parse(e.data)); });
  source.addEventListener("run", (e) => { if (state.current === projectId) showProgress(JSON.parse(e.data)); });
  source.addEventListener("reload", () => loadConversation());
  source.onerror = () => { if (source.readyState === EventSource.CLOSED && state.events === source) state.events = null; };
  state.events = source;
}

// Runs `work` with the composer disabled, then shows where the project stands.
async function watch(work) {
  const box = $("message");
  box.disabled = true;
  try {
    await work();
    // Following by changes, the conversation is already up to date.
    await Promise.all([state.events || !state.after ? loadConversation() : null, refreshProject()]);
  } catch (err) { showError(err); } finally { box.disabled = false; box.focus(); showProgress(null); }
}

function send(content) {
  return watch(async () => {
    const id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    const posted = await call("POST", `/projects/${state.current}/messages`, { content, client_id: id });
    appendMessage(posted.message);
    $("message").value = "";
    showError(null);
    await followRun(posted.run.id);
  });
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const content = $("message").value.trim();
  if (content) send(content);
});
$("message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
});

// ------------------------------------------------------------------ project panel

async function refreshProject() {
  state.project = await call("GET", `/projects/${state.current}`);
  $("project-status").textContent = state.project.status;
  $("project-status").className = `badge ${state.project.status}`;
  renderSuggestions();
  renderDeployments();
  renderModelUsage();
  await loadProjects();
  if (!$("panel").hidden) await Promise.all([loadVersions(), projectHistory.reload()]);
}

// What reading the project's messages with a language model has cost so far, if anything.
function renderModelUsage() {
  const u = state.project && state.project.model_usage;
  $("model-usage").hidden = !u;
  $("model-usage").textContent = u
    ? `Language model: ${[counted(u.calls, "call", "calls"), tokens(u), dollars(u.cost_usd), `${counted(u.fallbacks || 0, "fallback", "fallbacks")} to the rules`].join(" · ")}`
    : "";
}

function renderDeployments() {
  const list = (state.project && state.project.deployments) || [];
  $("deployments").replaceChildren(...list.map((d) => el("li", {},
    el("strong", { text: `${d.environment} ` }), el("span", { text: `version ${d.version} ` }),
    d.url && safeUrl(d.url) ? el("a", { href: d.url, target: "_blank", rel: "noopener", text: d.url }) : el("span", { text: "(no URL)" }),
    el("button", { type: "button", class: "logs-button", "aria-label": `Logs of ${d.environment}`, text: "Logs",
      onclick: () => projectLogs.open(d.environment) }))));
  if (!list.length) $("deployments").append(el("li", { class: "badge", text: "Not deployed yet" }));
}

const loadVersions = (select) => versions.load(select);

async function showPanel(version) {
  $("panel").hidden = false;
  $("panel-toggle").setAttribute("aria-expanded", "true");
  await Promise.all([loadVersions(version), projectHistory.reload()]);
}

$("panel-toggle").addEventListener("click", async () => {
  const open = $("panel").hidden;
  $("panel").hidden = !open;
  $("panel-toggle").setAttribute("aria-expanded", String(open));
  if (open) await Promise.all([loadVersions(), projectHistory.reload()]).catch(showError);
});

// ------------------------------------------------------------------ navigation

async function openProject(id) {
  // A run followed in the project left behind is no longer waited for.
  for (const done of follower.waiting.values()) done(null);
  follower.waiting.clear();
  state.current = id;
  versions.clear();
  conversation.clear();
  projectList.mark();
  projectHistory.clear();
  projectLogs.clear();
  history.replaceState(null, "", `#/projects/${id}`);
  $("composer").hidden = false;
  $("panel-toggle").hidden = false;
  $("clone-button").hidden = false;
  showError(null);
  subscribe(id);
  await refreshProject();
  $("project-title").textContent = state.project.name;
  $("project-title").title = state.project.name;
  await loadConversation(true);
  $("message").focus();
}

// What the page shows once signed in: a link to #/projects/{id} opens that project.
async function show() {
  $("sign-out").hidden = !bearer();
  const name = auth.mode === "oidc" ? signin.who() : null;
  $("who").hidden = !name;
  $("who").textContent = name ? `Signed in as ${name}` : "";
  const linked = location.hash.match(/^#\/projects\/([0-9a-f-]{36})$/);
  await (linked ? openProject(linked[1]) : loadProjects());
}

async function start() {
  const config = await signInConfig();
  Object.assign(auth, { mode: config.mode, oidc: config.oidc || null });
  if (auth.mode === "oidc") {
    let returnTo = null;
    try {
      returnTo = await signin.completeSignIn(auth.oidc);
    } catch (err) {
      return askToSignIn(err.message);
    }
    if (returnTo) history.replaceState(null, "", returnTo);
    if (!signin.idToken()) return askToSignIn();
    signin.keepFresh(auth.oidc, signedOut);
  }
  if (auth.mode === "token" && !bearer()) return askToSignIn();
  await show();
}

start().catch(showError);
