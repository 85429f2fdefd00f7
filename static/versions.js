// The versions in the side panel: a select of the newest first, a page at a time (GET
// …/versions) with a "More versions" button that follows `next_cursor`; the chosen version's
// file tree, a file's contents, its diff with the one before, and its ZIP. Every string the
// server sends is set as text, never as HTML.

// Versions asked for at a time.
export const PAGE = 50;

const $ = (id) => document.getElementById(id);

// `deps`: { api, call, text, request, bearer, el, current, showError } from the page.
export function createVersions(deps) {
  const { el } = deps;
  // The version and file shown; each read of the list starts a new generation, so a late
  // answer for a project left, or of an older read, is dropped.
  const shown = { version: null, file: null, cursor: null, oldest: null, generation: 0 };

  const option = (v) => el("option", { value: String(v.number), text: `Version ${v.number}` });
  const listed = (number) => [...$("version-select").options].some((o) => o.value === String(number));

  function take(page) {
    $("version-select").append(...page.items.map(option));
    if (page.items.length) shown.oldest = page.items[page.items.length - 1].number;
    shown.cursor = page.next_cursor || null;
    $("versions-more").hidden = !shown.cursor;
  }

  // The page after the last one listed; false when another read took over meanwhile.
  async function more(generation) {
    const project = deps.current();
    const cursor = shown.cursor;
    const page = await deps.call("GET", `/projects/${project}/versions?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
    if (project !== deps.current() || generation !== shown.generation || cursor !== shown.cursor) return false;
    take(page);
    return true;
  }

  // Lists the newest versions and shows `select` (else the one shown, else the newest); a
  // version older than the first page is listed by reading the pages down to it.
  async function load(select) {
    const project = deps.current();
    const generation = ++shown.generation;
    const page = await deps.call("GET", `/projects/${project}/versions?limit=${PAGE}`);
    if (project !== deps.current() || generation !== shown.generation) return;
    $("version-select").replaceChildren();
    take(page);
    if (!page.items.length) {
      $("file-tree").replaceChildren(el("li", { class: "badge", text: "Nothing built yet" }));
      $("viewer").textContent = "";
      return;
    }
    const number = select || shown.version || page.items[0].number;
    while (!listed(number) && shown.cursor && shown.oldest > number) {
      if (!await more(generation)) return;
    }
    $("version-select").value = String(listed(number) ? number : page.items[0].number);
    await showVersion(Number($("version-select").value));
  }

  async function showVersion(number) {
    shown.version = number;
    const version = await deps.call("GET", `/projects/${deps.current()}/versions/${number}`);
    const downloadPath = `/projects/${deps.current()}/export?version=${number}`;
    $("download").href = deps.api + downloadPath;
    $("download").dataset.path = downloadPath;
    const rows = [];
    let dir = null;
    // Grouped by directory, so that each directory's files stand together under one heading.
    const split = (p) => [p.slice(0, Math.max(0, p.lastIndexOf("/"))), p.slice(p.lastIndexOf("/") + 1)];
    const files = [...version.manifest].sort((a, b) => {
      const [da, na] = split(a.path);
      const [db, nb] = split(b.path);
      return da === db ? na.localeCompare(nb) : da.localeCompare(db);
    });
    for (const f of files) {
      const parts = f.path.split("/");
      const d = parts.slice(0, -1).join("/");
      if (d !== dir) { dir = d; if (d) rows.push(el("li", { class: "dir", text: `${d}/` })); }
      rows.push(el("li", {}, el("button", { type: "button", "data-path": f.path, "aria-current": String(shown.file === f.path), text: `${d ? "  " : ""}${parts[parts.length - 1]}`, onclick: () => showFile(f.path) })));
    }
    $("file-tree").replaceChildren(...rows);
    const first = version.manifest.find((f) => f.path === shown.file) || version.manifest.find((f) => f.path === "app/main.py") || version.manifest[0];
    if (first) await showFile(first.path);
  }

  async function showFile(path) {
    shown.file = path;
    for (const b of $("file-tree").querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.path === path));
    $("viewer-title").textContent = `${path} (version ${shown.version})`;
    $("viewer").textContent = await deps.text(`/projects/${deps.current()}/versions/${shown.version}/files/${path.split("/").map(encodeURIComponent).join("/")}`);
  }

  $("version-select").addEventListener("change", () => showVersion(Number($("version-select").value)).catch(deps.showError));
  $("versions-more").addEventListener("click", async () => {
    const button = $("versions-more");
    button.disabled = true;
    try {
      await more(shown.generation);
      // The list grew below the one chosen, which stays chosen.
      if (button.hidden) $("version-select").focus();
    } catch (err) { deps.showError(err); } finally { button.disabled = false; }
  });
  $("diff-button").addEventListener("click", async () => {
    try {
      const diff = await deps.text(`/projects/${deps.current()}/versions/${shown.version}/diff`);
      $("viewer-title").textContent = `Changes in version ${shown.version}`;
      $("viewer").replaceChildren(...(diff || "No changes.").split("\n").map((line) =>
        el("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "", text: `${line}\n` })));
    } catch (err) { deps.showError(err); }
  });
  // With a token the download goes through fetch, since a plain link cannot carry it.
  $("download").addEventListener("click", async (event) => {
    if (!deps.bearer()) return;
    event.preventDefault();
    try {
      const res = await deps.request("GET", $("download").dataset.path);
      const url = URL.createObjectURL(await res.blob());
      const a = el("a", { href: url, download: `version-${shown.version}.zip` });
      a.click();
      URL.revokeObjectURL(url);
    } catch (err) { deps.showError(err); }
  });

  return {
    load,
    // Nothing chosen: another project, or signed out.
    clear() {
      shown.generation++;
      Object.assign(shown, { version: null, file: null, cursor: null, oldest: null });
      $("version-select").replaceChildren();
      $("versions-more").hidden = true;
    },
  };
}
