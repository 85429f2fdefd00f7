// Kiln's web UI: projects on the left, the conversation on the right.
// User text is only ever set through textContent, never parsed as HTML.

const api = "/api/v2";
let current = null;

async function call(method, path, body) {
  const headers = { accept: "application/json" };
  const token = localStorage.getItem("kiln-token");
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    const given = prompt("This Kiln server needs its token (KILN_TOKEN):");
    if (given) { localStorage.setItem("kiln-token", given.trim()); return call(method, path, body); }
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ? data.error.message : `HTTP ${res.status}`);
  return data;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v; else if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function showError(err) {
  const box = document.getElementById("error");
  box.hidden = !err;
  box.textContent = err ? String(err.message || err) : "";
}

async function loadProjects() {
  const page = await call("GET", "/projects?limit=200");
  const list = document.getElementById("projects");
  list.replaceChildren(...page.items.map((p) => {
    const button = el("button", { type: "button", "aria-current": String(current === p.id) },
      el("span", { text: p.name }), el("span", { class: "badge", text: p.status }));
    button.addEventListener("click", () => openProject(p.id));
    return el("li", {}, button);
  }));
}

function renderBlock(block) {
  const box = el("div", { class: "block" });
  if (block.type === "plan") {
    box.append(el("strong", { text: block.title }), el("ul", {}, ...block.items.map((i) => el("li", { text: i }))));
  } else if (block.type === "spec_diff") {
    const lines = [...block.added.map((a) => `+ ${a}`), ...block.removed.map((r) => `− ${r}`), ...block.changed.map((c) => `~ ${c}`)];
    box.append(el("ul", {}, ...lines.map((l) => el("li", { text: l }))));
  } else if (block.type === "link" && /^https?:\/\//.test(block.url)) {
    box.append(el("a", { href: block.url, target: "_blank", rel: "noopener", text: block.label }));
  } else if (block.type === "test_report") {
    const r = block.report;
    box.append(el("strong", { text: `Version ${block.version}: ${r.passed} passed, ${r.failed} failed, ${r.errors} errors` }));
    if (r.failures.length) {
      box.append(el("ul", {}, ...r.failures.map((f) => el("li", {}, el("code", { text: f.name }), el("pre", { text: f.message })))));
    }
  } else if (block.type === "file_list") {
    box.append(el("strong", { text: `Version ${block.version}` }), el("ul", {}, ...block.files.map((f) => el("li", { text: `${f.path} (${f.size} bytes)` }))));
  }
  return box;
}

async function loadConversation() {
  const items = [];
  let cursor = null;
  do {
    const page = await call("GET", `/projects/${current}/conversation?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  const list = document.getElementById("messages");
  list.replaceChildren(...items.map((m) => el("li", { class: `msg ${m.role}` },
    el("span", { class: "who", text: m.role === "assistant" ? (m.agent || "assistant").replace(/_/g, " ") : m.role }),
    el("span", { text: m.content }), ...m.blocks.map(renderBlock))));
  list.scrollTop = list.scrollHeight;
}

function setProgress(run) {
  const line = document.getElementById("progress");
  if (!run) { line.hidden = true; return; }
  const step = run.steps.length ? run.steps[run.steps.length - 1] : null;
  line.hidden = false;
  line.textContent = step ? `Working: ${step.name.replace(/([a-z])([A-Z])/g, "$1 $2")}…` : "Starting…";
}

// Follows a run until it ends, refreshing the conversation as agents reply.
async function followRun(projectId, runId) {
  for (;;) {
    const run = await call("GET", `/projects/${projectId}/runs/${runId}`);
    if (projectId !== current) return;
    setProgress(run);
    await loadConversation();
    if (run.status === "succeeded" || run.status === "failed") return;
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

async function openProject(id) {
  current = id;
  history.replaceState(null, "", `#/projects/${id}`);
  const project = await call("GET", `/projects/${id}`);
  document.getElementById("project-title").textContent = project.name;
  document.getElementById("composer").hidden = false;
  await Promise.all([loadConversation(), loadProjects()]);
  document.getElementById("message").focus();
}

document.getElementById("new-project").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("project-name");
  try {
    const project = await call("POST", "/projects", { name: input.value });
    input.value = "";
    showError(null);
    await openProject(project.id);
  } catch (err) { showError(err); }
});

document.getElementById("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("message");
  const content = box.value;
  box.disabled = true;
  try {
    const posted = await call("POST", `/projects/${current}/messages`, { content, client_id: crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}` });
    box.value = "";
    showError(null);
    await followRun(current, posted.run.id);
    await Promise.all([loadConversation(), loadProjects()]);
  } catch (err) { showError(err); } finally { box.disabled = false; box.focus(); setProgress(null); }
});

document.getElementById("message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); document.getElementById("composer").requestSubmit(); }
});

// A link to #/projects/{id} opens that project.
const linked = location.hash.match(/^#\/projects\/([0-9a-f-]{36})$/);
(linked ? openProject(linked[1]) : loadProjects()).catch(showError);
