// The versions in the side panel: a select of the newest first, a page at a time (GET
// …/versions) with a "More versions" button that follows `next_cursor`, each version the user
// made marked "by you" with its note; the chosen version's file tree, a file's contents
// (highlighted), its diff with the one before, and its ZIP. The current version's files can be
// changed: Edit and New file open the editor (each save a PUT …/files/{path}, a new version by
// the user), Delete file asks first (DELETE …/files/{path}). Every string the server sends is
// set as text, never as HTML.

import { highlightInto, languageOf } from "./highlight.js";

// Versions asked for at a time.
export const PAGE = 50;

const $ = (id) => document.getElementById(id);

// A file's path in a URL: each segment encoded.
const filePath = (path) => path.split("/").map(encodeURIComponent).join("/");
// A note as the list of versions shows it: its beginning.
const short = (note, most = 40) => (note.length > most ? `${note.slice(0, most - 1)}…` : note);

// `deps`: { api, call, text, request, bearer, el, current, project, editor, changed, showError }
// from the page; `changed()` reads the project (and so these versions) and the conversation
// again after a change.
export function createVersions(deps) {
  const { el } = deps;
  // The version and file shown; each read of the list starts a new generation, so a late
  // answer for a project left, or of an older read, is dropped.
  const shown = { version: null, file: null, cursor: null, oldest: null, generation: 0, manifest: [] };
  // The file the delete dialog asks about.
  let deleting = null;

  const currentNumber = () => deps.project()?.current_version ?? null;
  function label(v) {
    const parts = [`Version ${v.number}`];
    if (v.number === currentNumber()) parts.push("current");
    if (v.author === "user") parts.push(v.note ? `by you: “${short(v.note)}”` : "by you");
    return parts.join(" · ");
  }
  const option = (v) => el("option", { value: String(v.number), class: v.author === "user" ? "by-user" : "", text: label(v) });
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
      $("version-about").textContent = "";
      $("file-actions").hidden = true;
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
    shown.manifest = version.manifest;
    const made = new Date(version.created_at).toLocaleString();
    $("version-about").textContent = `${version.number === currentNumber() ? "The current version" : `Version ${version.number}`}, made ${version.author === "user" ? "by you" : "by Kiln"} on ${made}${version.note ? `: “${version.note}”` : ""}`;
    $("version-about").classList.toggle("by-user", version.author === "user");
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
    if (first) {
      await showFile(first.path);
    } else {
      shown.file = null;
      $("viewer-title").textContent = `No files (version ${shown.version})`;
      $("viewer").textContent = "";
      updateActions();
    }
  }

  const read = (number, path) => deps.text(`/projects/${deps.current()}/versions/${number}/files/${filePath(path)}`);

  async function showFile(path) {
    shown.file = path;
    for (const b of $("file-tree").querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.path === path));
    $("viewer-title").textContent = `${path} (version ${shown.version})`;
    updateActions();
    highlightInto($("viewer"), await read(shown.version, path), languageOf(path));
  }

  // Only the current version's files change: each change makes the version after it.
  function updateActions() {
    const current = currentNumber();
    const editable = shown.version !== null && shown.version === current;
    $("file-actions").hidden = shown.version === null;
    $("edit-button").disabled = !editable || !shown.file;
    $("delete-file-button").disabled = !editable || !shown.file;
    $("new-file-button").disabled = !editable;
    $("file-actions-note").textContent = editable || !current ? "" : `Only the current version (${current}) can be changed.`;
  }

  // Said before a change: saving one drops the merge a build waits on.
  const waiting = () => (deps.project()?.merge
    ? "A build waits for your decisions on its conflicts (in the conversation): a change saved here drops that build's merge."
    : "");

  // Shows version `number` (and `file`, if given) once the project is read again.
  async function changedTo(number, file) {
    shown.version = number;
    if (file !== undefined) shown.file = file;
    await deps.changed();
  }

  // The editor on `path` of `version`, starting from `original` (or on a new file: `fresh`).
  function openEditor({ path, version, original, text, fresh, about }) {
    deps.editor.open({
      title: fresh ? `New file in version ${version}` : `Edit ${path} (version ${version})`,
      path,
      pathEditable: fresh,
      original,
      text,
      note: true,
      about: about || waiting(),
      saveLabel: "Save",
      save: (edit) => save({ ...edit, path: fresh ? edit.path : path, version, original, fresh }),
    });
  }

  async function save({ path, text, note, version, original, fresh }) {
    if (fresh) {
      path = path.replace(/^\/+/, "");
      if (shown.version === version && shown.manifest.some((f) => f.path === path)) {
        throw new Error(`Version ${version} already has ${path}: open it and press Edit instead.`);
      }
    } else if (text === original) {
      return "Nothing to save: the text is as it was.";
    }
    let outcome;
    try {
      outcome = await deps.call("PUT", `/projects/${deps.current()}/files/${filePath(path)}`, { content: text, message: note || undefined, version });
    } catch (err) {
      if (err.code !== "stale_version") throw err;
      const stale = new Error(`Not saved: ${err.message}.`);
      stale.action = { label: "Reload", run: () => reload(path, text, fresh) };
      throw stale;
    }
    if (!outcome.made) return "Nothing to save: the file already holds this text.";
    await changedTo(outcome.version.number, path);
    return undefined;
  }

  // After another version became current: the editor again on the current version's file,
  // with the text typed kept, to review against it and save on top of it.
  async function reload(path, text, fresh) {
    await deps.changed();
    const current = currentNumber();
    if (current !== shown.version) await load(current);
    const has = shown.manifest.some((f) => f.path === path);
    const original = has && !fresh ? await read(current, path) : "";
    openEditor({
      path, version: current, original, text, fresh,
      about: `Version ${current} is current now. Your text is kept: Review changes shows it against ${has ? `version ${current}'s file` : "nothing, since that version has no such file"}, and Save puts it on top.`,
    });
  }

  $("edit-button").addEventListener("click", async () => {
    const path = shown.file;
    const version = shown.version;
    try {
      const original = await read(version, path);
      openEditor({ path, version, original, text: original, fresh: false });
    } catch (err) { deps.showError(err); }
  });
  $("new-file-button").addEventListener("click", () => {
    const dir = shown.file && shown.file.includes("/") ? `${shown.file.slice(0, shown.file.lastIndexOf("/") + 1)}` : "";
    openEditor({ path: dir, version: shown.version, original: "", text: "", fresh: true });
  });
  $("delete-file-button").addEventListener("click", () => {
    deleting = { path: shown.file, version: shown.version };
    $("delete-file-question").textContent = `Delete ${deleting.path}? Version ${deleting.version + 1} is made without it; version ${deleting.version} and those before keep it.`;
    $("delete-file-waiting").textContent = waiting();
    $("delete-file-waiting").hidden = !waiting();
    $("delete-file-note").value = "";
    deps.showError(null, $("delete-file-error"));
    $("delete-file-dialog").showModal();
    $("delete-file-cancel").focus();
  });
  $("delete-file-cancel").addEventListener("click", () => $("delete-file-dialog").close());
  $("delete-file-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { path, version } = deleting;
    const query = new URLSearchParams({ version: String(version) });
    const note = $("delete-file-note").value.trim();
    if (note) query.set("message", note);
    $("delete-file-submit").disabled = true;
    try {
      const outcome = await deps.call("DELETE", `/projects/${deps.current()}/files/${filePath(path)}?${query}`);
      $("delete-file-dialog").close();
      await changedTo(outcome.version.number, null);
    } catch (err) {
      deps.showError(err.code === "stale_version" ? new Error(`Not deleted: ${err.message}. Cancel, then look at the current version first.`) : err, $("delete-file-error"));
    } finally { $("delete-file-submit").disabled = false; }
  });
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
    // Shows version `number` when the list is read next (a version just made).
    select(number) { shown.version = number; },
    // Nothing chosen: another project, or signed out.
    clear() {
      shown.generation++;
      Object.assign(shown, { version: null, file: null, cursor: null, oldest: null, manifest: [] });
      $("version-select").replaceChildren();
      $("versions-more").hidden = true;
      $("version-about").textContent = "";
      $("file-actions").hidden = true;
    },
  };
}
