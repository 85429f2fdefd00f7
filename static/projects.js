// The projects in the sidebar: the newest first, a page at a time (GET /projects) with a
// "More projects" button that follows `next_cursor`; the search box asks the server (`q`), so
// it finds every project whose name holds the text, not only those on the page (what is shown
// is filtered at once while the answer comes). Every string the server sends is set as text,
// never as HTML.

// Projects asked for at a time.
export const PAGE = 50;
// The most a list may ask for at once (the server's limit).
const MOST = 200;
// How long the search waits for typing to pause before it asks.
const TYPING_MS = 250;

const $ = (id) => document.getElementById(id);

// `deps`: { call, el, current, open, showError } from the page; `open(id)` opens a project.
export function createProjectList(deps) {
  const { el } = deps;
  // Each read of the first page starts a new generation: a late answer of an older one (an
  // earlier search, a project left) is dropped.
  const list = { cursor: null, shown: 0, generation: 0, query: "" };
  // Every project the server has listed since the newest page was last read without a search:
  // what the search box filters at once, while the server is asked.
  const known = new Map();
  let typing = null;

  function render(p) {
    const button = el("button", { type: "button", "data-id": p.id, "aria-current": String(deps.current() === p.id), onclick: () => deps.open(p.id) },
      el("span", { class: "name", text: p.name, title: p.name }), el("span", { class: `badge ${p.status}`, text: p.status }));
    return el("li", {}, button);
  }

  // Reads the list again from its newest, as many projects as it showed (at least a page), for
  // the text in the search box; or, with `more`, the page after the last one shown.
  async function load(more) {
    const generation = more ? list.generation : ++list.generation;
    const query = more ? list.query : $("search").value.trim();
    const limit = more ? PAGE : Math.min(MOST, Math.max(PAGE, list.query === query ? list.shown : 0));
    const q = query ? `&q=${encodeURIComponent(query)}` : "";
    const cursor = more ? `&cursor=${encodeURIComponent(list.cursor)}` : "";
    const from = list.cursor;
    const page = await deps.call("GET", `/projects?limit=${limit}${q}${cursor}`);
    // A newer read of the list wins; a next page is only added where it was asked for.
    if (generation !== list.generation || (more && list.cursor !== from)) return;
    if (!more && !query) known.clear();
    for (const p of page.items) known.set(p.id, p);
    const rows = page.items.map(render);
    if (more) $("projects").append(...rows);
    else $("projects").replaceChildren(...rows);
    list.query = query;
    list.shown = (more ? list.shown : 0) + page.items.length;
    if (!list.shown) $("projects").append(el("li", { class: "badge", text: query ? "No project matches" : "No projects yet" }));
    list.cursor = page.next_cursor || null;
    $("projects-more").hidden = !list.cursor;
  }

  $("projects-more").addEventListener("click", async () => {
    const button = $("projects-more");
    button.disabled = true;
    try { await load(true); } catch (err) { deps.showError(err); } finally { button.disabled = false; }
  });

  // While typing, the projects shown are filtered at once; once typing pauses, the server is
  // asked for every project whose name holds the text, and its answer is the list.
  $("search").addEventListener("input", () => {
    const query = $("search").value.trim().toLowerCase();
    const matches = [...known.values()].filter((p) => p.name.toLowerCase().includes(query));
    $("projects").replaceChildren(...matches.map(render));
    if (!matches.length) $("projects").append(el("li", { class: "badge", text: "Searching…" }));
    // What the list held, and its next page, were for another text.
    list.generation++;
    $("projects-more").hidden = true;
    clearTimeout(typing);
    typing = setTimeout(() => load(false).catch(deps.showError), TYPING_MS);
  });

  return {
    reload: () => load(false),
    // Marks the open project among those shown.
    mark() {
      for (const b of $("projects").querySelectorAll("button[data-id]")) b.setAttribute("aria-current", String(b.dataset.id === deps.current()));
    },
    // Nothing shown: signed out.
    clear() {
      clearTimeout(typing);
      list.generation++;
      Object.assign(list, { cursor: null, shown: 0, query: "" });
      known.clear();
      $("projects").replaceChildren();
      $("projects-more").hidden = true;
    },
  };
}
