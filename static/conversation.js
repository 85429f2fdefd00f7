// The conversation in the middle, read from its end: a project opens at its newest page
// (GET …/conversation?latest=), with a "Show earlier messages" button at the top that reads the
// page before (`before`) and keeps what is on screen where it was. Read again (a run ended, the
// stream lagged), the newest page is merged into what is shown, so pages read earlier stay.

// Messages asked for at a time.
export const PAGE = 50;

const $ = (id) => document.getElementById(id);

// `deps`: { call, el, current, render, showError } from the page; `render(message)` makes a
// message's row.
export function createConversation(deps) {
  const { el } = deps;
  // Each open starts a new generation: a late answer for a project left is dropped.
  const pages = { before: null, generation: 0 };

  const box = () => $("messages");
  const shown = (id) => box().querySelector(`li.msg[data-id="${CSS.escape(id)}"]`);
  const toEnd = () => { box().scrollTop = box().scrollHeight; };

  // The button at the top while there are earlier messages to read.
  function earlierRow(cursor) {
    pages.before = cursor || null;
    const row = $("earlier-row");
    if (pages.before && !row) {
      box().prepend(el("li", { id: "earlier-row", class: "earlier" },
        el("button", { type: "button", id: "earlier", onclick: () => earlier().catch(deps.showError) }, "Show earlier messages")));
    } else if (!pages.before && row) {
      row.remove();
    }
  }

  async function newest() {
    const project = deps.current();
    const generation = pages.generation;
    const page = await deps.call("GET", `/projects/${project}/conversation?latest=${PAGE}`);
    return project === deps.current() && generation === pages.generation ? page : null;
  }

  function replace(page) {
    box().replaceChildren(...page.items.map(deps.render));
    earlierRow(page.before);
    toEnd();
  }

  // Puts the messages of the newest page that are not shown among those that are, in the
  // page's order; false when none of them is shown (more was said than a page holds).
  function merge(items) {
    const known = items.map((m) => shown(m.id));
    if (items.length && !known.some(Boolean) && box().querySelector("li.msg")) return false;
    let previous = null;
    let pending = [];
    let last = false;
    items.forEach((m, i) => {
      if (known[i]) {
        if (pending.length) known[i].before(...pending);
        pending = [];
        previous = known[i];
        last = false;
        return;
      }
      const row = deps.render(m);
      if (previous) previous.after(row);
      else pending.push(row);
      previous = previous ? row : null;
      last = true;
    });
    if (pending.length) box().append(...pending);
    if (last) toEnd();
    return true;
  }

  // Reads the page before the first shown, and puts it above, where the button was; what was
  // on screen stays where it was.
  async function earlier() {
    const button = $("earlier");
    const project = deps.current();
    const generation = pages.generation;
    const cursor = pages.before;
    if (!cursor) return;
    button.disabled = true;
    try {
      const page = await deps.call("GET", `/projects/${project}/conversation?before=${encodeURIComponent(cursor)}&limit=${PAGE}`);
      if (project !== deps.current() || generation !== pages.generation || cursor !== pages.before) return;
      const list = box();
      const fromBottom = list.scrollHeight - list.scrollTop;
      const rows = page.items.filter((m) => !shown(m.id)).map(deps.render);
      $("earlier-row").after(...rows);
      earlierRow(page.before);
      list.scrollTop = list.scrollHeight - fromBottom;
      // With nothing earlier left, the reader goes on from the first message.
      if (!pages.before && rows.length) {
        rows[0].setAttribute("tabindex", "-1");
        rows[0].focus({ preventScroll: true });
      }
    } finally {
      button.disabled = false;
    }
  }

  return {
    // The project just opened: its newest page. Answers the mark that follows on from it, or
    // undefined when another project was opened meanwhile.
    async open() {
      pages.generation++;
      const page = await newest();
      if (!page) return undefined;
      replace(page);
      return page.after || null;
    },
    // The newest page again, merged into what is shown; answers as `open` does.
    async refresh() {
      const page = await newest();
      if (!page) return undefined;
      if (!merge(page.items)) replace(page);
      return page.after || null;
    },
    // Nothing shown: another project, or signed out.
    clear() {
      pages.generation++;
      pages.before = null;
      box().replaceChildren();
    },
  };
}
