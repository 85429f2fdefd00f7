// Syntax highlighting of a project's files, written here rather than taken from a CDN: each
// language is a list of rules tried in order where the text goes on (sticky, multiline regular
// expressions, so `^` is the start of a line); what no rule matches is plain text. The tokens
// are set as text nodes in <span class="tok-…"> elements, never as HTML, so a file's contents
// can hold anything.

const words = (list) => new RegExp(`\\b(?:${list.join("|")})\\b`, "y");

// A string that may run over lines ("""…""") or stays on one, with its escapes.
const PY_STRING = /(?:[rRbBuUfF]{1,2})?(?:"""[\s\S]*?(?:"""|$(?![\s\S]))|'''[\s\S]*?(?:'''|$(?![\s\S]))|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)/y;
const QUOTED = /"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?/y;
const NUMBER = /\b(?:0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?j?)\b/y;

const PYTHON = [
  ["comment", /#.*/y],
  ["string", PY_STRING],
  ["decorator", /@[\w.]+/y],
  ["keyword", /\b(?:def|class)\b/y, "def"],
  ["keyword", words(["and", "as", "assert", "async", "await", "break", "continue", "del", "elif", "else", "except",
    "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass",
    "raise", "return", "try", "while", "with", "yield", "match", "case"])],
  ["builtin", words(["True", "False", "None", "self", "cls"])],
  ["builtin", words(["int", "str", "float", "bool", "bytes", "list", "dict", "set", "tuple", "len", "print",
    "range", "isinstance", "super", "Exception", "ValueError", "KeyError", "TypeError"])],
  ["number", NUMBER],
];

const YAML = [
  ["comment", /(?:^|(?<=\s))#.*/my],
  ["punct", /^(?:---|\.\.\.)(?=\s|$)/my],
  ["key", /^[ \t]*(?:- +)*(?:"[^"\n]*"|'[^'\n]*'|[^\s#'"\-?:,[\]{}][^#\n:]*?)(?=:(?:\s|$))/my],
  ["string", QUOTED],
  ["variable", /[&*][\w-]+/y],
  ["builtin", /\b(?:true|false|yes|no|on|off|null|True|False|Null|NULL)\b|~/y],
  ["number", /[-+]?\b\d+(?:\.\d+)?\b/y],
  ["punct", /[|>][-+]?(?=\s*$)/my],
];

const MARKDOWN = [
  ["code", /^(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^\1[^\n]*$|$(?![\s\S]))/my],
  ["heading", /^#{1,6}[ \t].*/my],
  ["punct", /^[ \t]*(?:[-*+]|\d+[.)])(?=[ \t])|^>+/my],
  ["code", /`[^`\n]+`/y],
  ["emph", /\*\*[^*\n]+\*\*|__[^_\n]+__|\*[^*\s][^*\n]*\*|\b_[^_\s][^_\n]*_\b/y],
  ["link", /!?\[[^\]\n]*\]\([^)\n]*\)|<https?:\/\/[^>\s]+>/y],
];

const DOCKERFILE = [
  ["comment", /^[ \t]*#.*/my],
  ["keyword", /^[ \t]*(?:FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL|MAINTAINER)\b/imy],
  ["keyword", /\bAS\b/iy],
  ["string", QUOTED],
  ["variable", /\$\{[^}\n]*\}?|\$\w+/y],
  ["punct", /--[\w-]+(?:=\S*)?/y],
  ["number", /\b\d+\b/y],
];

// TOML, INI, setup.cfg, .env: sections, keys before `=` (or `:` in INI), values.
const CONFIG = [
  ["comment", /^[ \t]*[#;].*|(?<=\s)#.*/my],
  ["section", /^[ \t]*\[\[?[^\]\n]*\]\]?/my],
  ["key", /^[ \t]*(?:export[ \t]+)?(?:"[^"\n]*"|'[^'\n]*'|[\w.\- ]+?)(?=[ \t]*[=:])/my],
  ["string", /"""[\s\S]*?(?:"""|$(?![\s\S]))|'''[\s\S]*?(?:'''|$(?![\s\S]))/y],
  ["string", QUOTED],
  ["builtin", /\b(?:true|false)\b/y],
  ["number", /[-+]?\b\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?\b/y],
  ["variable", /\$\{[^}\n]*\}?|\$\w+/y],
];

const JSON_RULES = [
  ["key", /"(?:[^"\\\n]|\\.)*"(?=\s*:)/y],
  ["string", /"(?:[^"\\\n]|\\.)*"?/y],
  ["builtin", /\b(?:true|false|null)\b/y],
  ["number", /-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b/y],
];

const SHELL = [
  ["comment", /(?:^|(?<=\s))#.*/my],
  ["string", QUOTED],
  ["variable", /\$\{[^}\n]*\}?|\$[\w@#?*!$-]/y],
  ["keyword", words(["if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "case", "esac",
    "function", "return", "exit", "set", "export", "local"])],
];

// Lists of packages, .gitignore and the like: comments only.
const PLAIN = [["comment", /^[ \t]*#.*/my]];

export const LANGUAGES = { python: PYTHON, yaml: YAML, markdown: MARKDOWN, dockerfile: DOCKERFILE, config: CONFIG, json: JSON_RULES, shell: SHELL, plain: PLAIN };

// The language of a file, by its name.
export function languageOf(path) {
  const name = String(path || "").split("/").pop();
  const lower = name.toLowerCase();
  const ext = lower.includes(".") ? lower.slice(lower.lastIndexOf(".") + 1) : "";
  if (lower === "dockerfile" || lower.startsWith("dockerfile.") || ext === "dockerfile") return "dockerfile";
  if (ext === "py" || ext === "pyi") return "python";
  if (ext === "yml" || ext === "yaml") return "yaml";
  if (ext === "md" || ext === "markdown") return "markdown";
  if (["toml", "ini", "cfg", "conf", "env", "properties"].includes(ext) || lower.startsWith(".env") || lower === ".editorconfig") return "config";
  if (ext === "json") return "json";
  if (ext === "sh" || ext === "bash") return "shell";
  return "plain";
}

// The text as tokens: [{ type, text }], type null for plain text; their texts joined are the
// text, always.
export function tokenize(text, language) {
  const rules = LANGUAGES[language] || PLAIN;
  const out = [];
  let plain = "";
  let after = null;
  const push = (type, t) => {
    if (!type) { plain += t; return; }
    if (plain) { out.push({ type: null, text: plain }); plain = ""; }
    out.push({ type, text: t });
  };
  let at = 0;
  while (at < text.length) {
    let matched = false;
    // The name after `def` or `class`.
    if (after === "def") {
      const m = /[ \t]+([A-Za-z_]\w*)/y;
      m.lastIndex = at;
      const found = m.exec(text);
      after = null;
      if (found) {
        push(null, found[0].slice(0, found[0].length - found[1].length));
        push("def", found[1]);
        at = m.lastIndex;
        continue;
      }
    }
    for (const [type, pattern, next] of rules) {
      pattern.lastIndex = at;
      const m = pattern.exec(text);
      if (m && m[0].length) {
        push(type, m[0]);
        at += m[0].length;
        after = next || null;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    // A word at once (so that no rule starts inside it), else one character.
    const word = /\w+|[^\w]/y;
    word.lastIndex = at;
    const w = word.exec(text)[0];
    push(null, w);
    at += w.length;
  }
  if (plain) out.push({ type: null, text: plain });
  return out;
}

// Fills `target` with `text` highlighted as `language` (a name `languageOf` answers).
export function highlightInto(target, text, language) {
  const fragment = document.createDocumentFragment();
  for (const t of tokenize(text, language)) {
    if (!t.type) {
      fragment.append(document.createTextNode(t.text));
    } else {
      const span = document.createElement("span");
      span.className = `tok-${t.type}`;
      span.textContent = t.text;
      fragment.append(span);
    }
  }
  target.replaceChildren(fragment);
}
