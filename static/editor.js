// The file editor: a dialog with the file's text in a textarea laid over the same text
// highlighted (the textarea's own text is transparent, its caret is not), "Review changes" to
// see the edit as a line diff against the text it started from before it is saved, a note,
// Save and Cancel. What saving does is the opener's: a file of the current version, a new
// file, or a conflicting file of a merge. File contents are hostile text: they are set as
// text, never as HTML.

import { highlightInto, languageOf } from "./highlight.js";
import { unifiedDiff } from "./diff.js";

const $ = (id) => document.getElementById(id);

const CLASSES = { "+": "add", "-": "del", "@": "hunk", "\\": "eol" };

// `deps`: { el } from the page.
export function createEditor(deps) {
  const { el } = deps;
  // What the open editor edits: the text it started from, and what Save does with it.
  const open = { original: "", save: null, reviewing: false, busy: false, frame: 0 };

  const text = () => $("editor-text").value;
  const path = () => $("editor-path").value.trim();
  const dirty = () => text() !== open.original;

  function paint() {
    cancelAnimationFrame(open.frame);
    open.frame = 0;
    // A last empty line is as high as the textarea's, so that both scroll as far.
    highlightInto($("editor-highlight"), `${text()}\n`, languageOf(path()));
    syncScroll();
  }

  function syncScroll() {
    $("editor-highlight").scrollTop = $("editor-text").scrollTop;
    $("editor-highlight").scrollLeft = $("editor-text").scrollLeft;
  }

  // Says what happened below the text; `action` ({ label, run }) adds a button that does it.
  function say(message, kind = "error", action = null) {
    const box = $("editor-error");
    box.hidden = !message;
    box.className = kind;
    box.replaceChildren();
    if (!message) return;
    box.append(el("span", { text: message }));
    if (action) {
      box.append(" ", el("button", { type: "button", text: action.label, onclick: () => {
        say(null);
        Promise.resolve(action.run()).catch((err) => say(err.message || String(err)));
      } }));
    }
  }

  function review(on) {
    open.reviewing = on;
    $("editor-code").hidden = on;
    $("editor-diff").hidden = !on;
    $("editor-review").textContent = on ? "Back to editing" : "Review changes";
    $("editor-review").setAttribute("aria-pressed", String(on));
    if (!on) { $("editor-text").focus(); return; }
    // One block a line: a line's text is all it holds.
    const lines = unifiedDiff(open.original, text());
    $("editor-diff").replaceChildren(...(lines.length
      ? lines.map((l) => el("span", { class: CLASSES[l.op] || "same", text: `${l.op === "@" ? "" : l.op}${l.op === "\\" ? " " : ""}${l.text}` }))
      : [el("span", { class: "same", text: "No changes: the text is as it was." })]));
    $("editor-diff").focus();
  }

  function close() {
    open.save = null;
    if ($("editor-dialog").open) $("editor-dialog").close();
  }

  // Opens the editor. `options`: { title, path, pathEditable, original, text, note (whether
  // to ask for one), about (a line above the text), saveLabel, save }; `save({ path, text,
  // note })` answers nothing when done (the editor closes), a sentence to show otherwise, or
  // throws an error to show, with `error.action` ({ label, run }) as a button beside it.
  function show(options) {
    open.original = options.original || "";
    open.save = options.save;
    open.busy = false;
    $("editor-heading").textContent = options.title;
    $("editor-about").hidden = !options.about;
    $("editor-about").textContent = options.about || "";
    $("editor-path-row").hidden = !options.pathEditable;
    $("editor-path").value = options.path || "";
    $("editor-path").disabled = !options.pathEditable;
    $("editor-text").value = options.text === undefined ? open.original : options.text;
    $("editor-text").setAttribute("aria-label", options.path ? `Contents of ${options.path}` : "Contents of the new file");
    $("editor-note-row").hidden = !options.note;
    $("editor-note").value = "";
    $("editor-save").textContent = options.saveLabel || "Save";
    $("editor-save").disabled = false;
    say(null);
    review(false);
    if (!$("editor-dialog").open) $("editor-dialog").showModal();
    $("editor-text").scrollTop = 0;
    $("editor-text").scrollLeft = 0;
    paint();
    (options.pathEditable ? $("editor-path") : $("editor-text")).focus();
    $("editor-text").setSelectionRange(0, 0);
  }

  async function save() {
    if (!open.save || open.busy) return;
    if (!$("editor-path-row").hidden && !path()) {
      say("Give the file a path, such as app/utils.py.");
      $("editor-path").focus();
      return;
    }
    open.busy = true;
    $("editor-save").disabled = true;
    say("Saving…", "status");
    const saving = open.save;
    try {
      const said = await saving({ path: path(), text: text(), note: $("editor-note").value.trim() });
      if (open.save !== saving) return;
      if (said) say(said, "status");
      else close();
    } catch (err) {
      if (open.save === saving) say(err.message || String(err), "error", err.action || null);
    } finally {
      open.busy = false;
      $("editor-save").disabled = false;
    }
  }

  $("editor-text").addEventListener("input", () => {
    if (!open.frame) open.frame = requestAnimationFrame(paint);
  });
  $("editor-text").addEventListener("scroll", syncScroll);
  $("editor-path").addEventListener("input", () => { if (!open.frame) open.frame = requestAnimationFrame(paint); });
  // Enter after the path goes on to the text, rather than saving an empty file.
  $("editor-path").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); $("editor-text").focus(); }
  });
  $("editor-review").addEventListener("click", () => review(!open.reviewing));
  $("editor-cancel").addEventListener("click", close);
  $("editor-form").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("editor-dialog").addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    }
  });
  // Escape does not drop an edit: Cancel does.
  $("editor-dialog").addEventListener("cancel", (event) => {
    if (!dirty()) { open.save = null; return; }
    event.preventDefault();
    say("Your changes are not saved: Save them, or press Cancel to drop them.", "status");
  });

  return { open: show, close, get isOpen() { return $("editor-dialog").open; } };
}
