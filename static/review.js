// The code reviewer's block: a version's findings, most severe first, each with its severity,
// file and line, rule, what is wrong and how to fix it; the counts of all findings, and how
// many were left out to keep the block small. Every string the server sends is set as text.

const WHERE = (f) => (f.file ? `${f.file}${f.line ? `:${f.line}` : ""}` : "the review");

// Fills `box` (a conversation block) with a `review` block; `el` is the page's element maker.
export function renderReview(box, block, el) {
  const { findings, counts, omitted } = block.review;
  box.classList.add("review");
  box.append(el("strong", {
    // Not "passed"/"failed": those name a test report's verdict on the page.
    class: counts.high ? "verdict blocked" : "verdict clean",
    text: `Review of version ${block.version}: ${counts.high} high, ${counts.medium} medium, ${counts.low} low`,
  }));
  if (findings.length) {
    box.append(el("ul", { class: "findings" }, ...findings.map((f) => el("li", { class: `finding ${f.severity}` },
      el("span", { class: "severity", text: f.severity }),
      el("code", { class: "where", text: WHERE(f) }),
      el("code", { class: "rule", text: f.rule }),
      el("span", { class: "what", text: f.message }),
      el("p", { class: "fix", text: `Fix: ${f.fix}` })))));
  }
  if (omitted) box.append(el("p", { class: "omitted", text: `${omitted} more findings are not listed.` }));
}
