// An environment's log in the side panel: a "Logs" button beside each deployment opens it
// (GET …/deployments/{environment}/logs: the latest lines), then follows it, asking every few
// seconds for the lines written since (`since` = the last answer's `next_since`) and
// appending them, until it is closed or another project is opened. Every string the server
// sends is set as text, never as HTML.

// How often an open log asks for new lines.
export const FOLLOW_MS = 3000;
// Lines asked for at a time.
const PAGE = 200;
// The most lines kept on the page; older ones leave from the top.
const KEEP = 1000;

const $ = (id) => document.getElementById(id);

// `deps`: { call, el, current, showError } from the page.
export function createLogs(deps) {
  const { el } = deps;
  // Each open (and each close) starts a new generation: a late answer of an older one is dropped.
  let generation = 0;
  let timer = null;

  function render(line) {
    const f = line.fields;
    const at = line.ts ? new Date(line.ts) : null;
    const time = at && !Number.isNaN(at.getTime())
      ? el("time", { datetime: line.ts, title: at.toISOString(), text: at.toLocaleTimeString() })
      : el("span", { class: "time" });
    if (f && typeof f.method === "string" && typeof f.path === "string" && Number.isInteger(f.status)) {
      const duration = typeof f.duration_ms === "number" ? `${f.duration_ms} ms` : "";
      return el("li", { class: `log-line request s${String(f.status)[0]}xx`, title: `request ${f.request_id ?? ""}` },
        time,
        el("span", { class: "method", text: f.method }),
        el("span", { class: "path", text: f.path }),
        el("span", { class: "status", text: String(f.status) }),
        el("span", { class: "duration", text: duration }));
    }
    return el("li", { class: "log-line raw" }, time, el("span", { class: "text", text: line.text }));
  }

  function show(items, replace) {
    const list = $("log-lines");
    const rows = items.map(render);
    if (replace) list.replaceChildren(...rows);
    else list.append(...rows);
    while (list.children.length > KEEP) list.firstElementChild.remove();
    $("log-empty").hidden = list.children.length > 0;
    // Keep the newest line in view while the reader is at the bottom.
    const box = $("log-box");
    if (replace || box.scrollHeight - box.scrollTop - box.clientHeight < 80) box.scrollTop = box.scrollHeight;
  }

  async function follow(project, environment, since, mine) {
    const query = since ? `limit=${PAGE}&since=${encodeURIComponent(since)}` : `limit=${PAGE}`;
    let next = since;
    try {
      const page = await deps.call("GET", `/projects/${project}/deployments/${environment}/logs?${query}`);
      if (mine !== generation) return;
      show(page.items, !since);
      next = page.next_since;
      $("log-status").textContent = `Following the ${environment} log`;
    } catch (err) {
      if (mine !== generation) return;
      $("log-status").textContent = err.message || String(err);
      // Nothing runs there (any more): no point asking again.
      if (err.status === 404) return;
    }
    timer = setTimeout(() => follow(project, environment, next, mine), FOLLOW_MS);
  }

  function stop() {
    generation++;
    clearTimeout(timer);
    timer = null;
  }

  $("log-close").addEventListener("click", () => {
    stop();
    $("logs").hidden = true;
  });

  return {
    // Opens the log of `environment` of the current project, and follows it.
    open(environment) {
      stop();
      $("logs-heading").textContent = `Logs · ${environment}`;
      $("log-lines").replaceChildren();
      $("log-empty").hidden = true;
      $("log-status").textContent = "Reading…";
      $("logs").hidden = false;
      $("logs").dataset.environment = environment;
      follow(deps.current(), environment, null, generation);
    },
    // Closed: another project, or signed out.
    clear() {
      stop();
      $("logs").hidden = true;
      $("log-lines").replaceChildren();
    },
  };
}
