// A line diff of two texts, as an edit shows it before it is saved: Myers' O(ND) algorithm on
// the lines between the common beginning and end, then hunks with three lines of context in
// the unified format ("@@ -a,b +c,d @@", "+" added, "-" removed, " " kept).

// Past this many differences the middle is shown as all removed, then all added.
const MOST_EDITS = 2000;

// The shortest edit script from lines `a` to lines `b`: [{ op: " " | "-" | "+", text }].
export function diffLines(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
  const head = a.slice(0, start).map((text) => ({ op: " ", text }));
  const tail = a.slice(endA).map((text) => ({ op: " ", text }));
  return [...head, ...middle(a.slice(start, endA), b.slice(start, endB)), ...tail];
}

function middle(a, b) {
  const n = a.length;
  const m = b.length;
  if (!n) return b.map((text) => ({ op: "+", text }));
  if (!m) return a.map((text) => ({ op: "-", text }));
  const max = Math.min(n + m, MOST_EDITS);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace = [];
  for (let d = 0; d <= max; d++) {
    // What the round starts from, the diagonals it can reach: -d - 1 to d + 1.
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) { x++; y++; }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, d);
    }
  }
  return [...a.map((text) => ({ op: "-", text })), ...b.map((text) => ({ op: "+", text }))];
}

// Walks the furthest points of each round back from the end to the start.
function backtrack(trace, a, b, d) {
  const out = [];
  let x = a.length;
  let y = b.length;
  for (let round = d; round > 0; round--) {
    const v = trace[round];
    const at = (diagonal) => v[diagonal + round + 1];
    const k = x - y;
    const down = k === -round || (k !== round && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) { x--; y--; out.push({ op: " ", text: a[x] }); }
    if (down) { y--; out.push({ op: "+", text: b[y] }); } else { x--; out.push({ op: "-", text: a[x] }); }
  }
  while (x > 0 && y > 0) { x--; y--; out.push({ op: " ", text: a[x] }); }
  return out.reverse();
}

// A text's lines; a last line without its newline is marked, so that adding one shows.
export function linesOf(text) {
  if (!text) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  else lines[lines.length - 1] += "\u0000";
  return lines;
}

// The diff of `before` and `after` as unified hunks: [{ op: "@" | " " | "-" | "+" | "\\", text }]
// ("\\" after a line that has no newline), empty when they are the same.
export function unifiedDiff(before, after, context = 3) {
  const script = diffLines(linesOf(before), linesOf(after));
  const out = [];
  const changed = script.map((s, i) => (s.op !== " " ? i : -1)).filter((i) => i >= 0);
  if (!changed.length) return out;
  // The lines before each entry of the script, on either side, from 1.
  const oldAt = [];
  const newAt = [];
  let o = 1;
  let n = 1;
  for (const s of script) {
    oldAt.push(o);
    newAt.push(n);
    if (s.op !== "+") o++;
    if (s.op !== "-") n++;
  }
  let i = 0;
  while (i < changed.length) {
    const from = Math.max(0, changed[i] - context);
    let to = changed[i];
    while (i < changed.length && changed[i] <= to + 2 * context + 1) { to = changed[i]; i++; }
    to = Math.min(script.length - 1, to + context);
    const part = script.slice(from, to + 1);
    const olds = part.filter((s) => s.op !== "+").length;
    const news = part.filter((s) => s.op !== "-").length;
    out.push({ op: "@", text: `@@ -${olds ? oldAt[from] : oldAt[from] - 1},${olds} +${news ? newAt[from] : newAt[from] - 1},${news} @@` });
    for (const s of part) {
      if (!s.text.endsWith("\u0000")) { out.push(s); continue; }
      out.push({ op: s.op, text: s.text.slice(0, -1) }, { op: "\\", text: "No newline at the end of the file" });
    }
  }
  return out;
}
