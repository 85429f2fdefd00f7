// The project's history in the side panel: its runs and its deployments, newest first, read
// a page at a time (GET …/runs, GET …/deployments) with a "Load more" button that follows
// `next_cursor`. Every string the server sends is set as text, never as HTML.

// Rows asked for at a time.
const PAGE = 20;
// The most a list may ask for at once (the server's limit).
const MOST = 200;

const $ = (id) => document.getElementById(id);

// How long a run took: "8 ms", "0.4 s", "2 min 5 s".
function took(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

function when(el, iso) {
  const at = new Date(iso);
  return el("time", { datetime: iso, title: at.toISOString(), text: at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) });
}

// `deps`: { call, el, current, stepLabel, safeUrl, dollars } from the page.
export function createHistory(deps) {
  const { el } = deps;

  function renderRun(run) {
    const done = run.status === "succeeded" || run.status === "failed";
    const length = done ? took(Math.max(0, Date.parse(run.updated_at) - Date.parse(run.created_at))) : "still going";
    const row = el("li", { class: `run ${run.status}`, "data-id": run.id },
      el("div", { class: "row" },
        el("strong", { class: "intent", text: run.intent }),
        el("span", { class: `badge status ${run.status}`, text: run.status }),
        when(el, run.created_at),
        el("span", { class: "took", text: length })));
    // Why it failed: the failed step's own words, else the run's.
    const step = (run.steps || []).find((s) => s.status === "failed" && s.error);
    const error = step ? `${deps.stepLabel(step.name)}: ${step.error}` : run.error && run.error.message;
    if (run.status === "failed" && error) row.append(el("p", { class: "error", text: error }));
    const u = run.usage;
    if (u) {
      const cost = [u.provider, u.model, deps.dollars(u.cost_usd)].join(" · ");
      row.append(el("p", { class: "cost", text: u.fallback ? `${cost} (read by the rules)` : cost }));
    }
    return row;
  }

  function renderDeployment(d) {
    const link = d.status === "running" && d.url && deps.safeUrl(d.url);
    return el("li", { class: `deployment ${d.status}`, "data-id": d.id },
      el("div", { class: "row" },
        el("strong", { class: "environment", text: d.environment }),
        el("span", { class: "version", text: `version ${d.version}` }),
        el("span", { class: `badge status ${d.status}`, text: d.status }),
        when(el, d.created_at)),
      ...(link ? [el("a", { href: d.url, target: "_blank", rel: "noopener", text: d.url })] : []));
  }

  const lists = [
    { path: "runs", list: "history-runs", more: "history-runs-more", render: renderRun, empty: "No runs yet" },
    { path: "deployments", list: "history-deployments", more: "history-deployments-more", render: renderDeployment, empty: "Not deployed yet" },
  ].map((l) => ({ ...l, cursor: null, shown: 0, generation: 0 }));

  // Reads the list again from its newest, as many rows as it showed (at least a page); or,
  // with `more`, the page after the last one shown.
  async function load(l, more) {
    const project = deps.current();
    const generation = more ? l.generation : ++l.generation;
    const limit = more ? PAGE : Math.min(MOST, Math.max(PAGE, l.shown));
    const cursor = more ? `&cursor=${encodeURIComponent(l.cursor)}` : "";
    const page = await deps.call("GET", `/projects/${project}/${l.path}?limit=${limit}${cursor}`);
    // A project left, or a newer read of the same list, wins.
    if (project !== deps.current() || generation !== l.generation) return;
    const rows = page.items.map(l.render);
    if (more) $(l.list).append(...rows);
    else $(l.list).replaceChildren(...rows);
    l.shown = (more ? l.shown : 0) + page.items.length;
    if (!l.shown) $(l.list).append(el("li", { class: "badge", text: l.empty }));
    l.cursor = page.next_cursor || null;
    $(l.more).hidden = !l.cursor;
  }

  for (const l of lists) {
    $(l.more).addEventListener("click", async () => {
      const button = $(l.more);
      button.disabled = true;
      try { await load(l, true); } catch (err) { deps.showError(err); } finally { button.disabled = false; }
    });
  }

  return {
    // Both lists, read again.
    reload: () => Promise.all(lists.map((l) => load(l, false))),
    // Nothing shown: another project, or signed out.
    clear() {
      for (const l of lists) {
        l.generation++;
        Object.assign(l, { cursor: null, shown: 0 });
        $(l.list).replaceChildren();
        $(l.more).hidden = true;
      }
    },
  };
}
