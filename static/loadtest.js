// The `load_test` block: what QA found when it called a live deployment. The smoke test (every
// endpoint once, with valid data: passed or the calls that failed) and the load test's numbers
// (requests/s, p50/p95/p99, error rate) with a bar chart of its latency histogram, drawn as
// inline SVG from the numbers alone. Every string from the server is set as text.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const number = (x) => (typeof x === "number" && Number.isFinite(x) ? x : 0);
const ms = (x) => `${number(x).toLocaleString(undefined, { maximumFractionDigits: 1 })} ms`;

// A bucket's label: "≤5 ms", and "> 5000 ms" for the open last one.
function bucketLabel(bucket, previous) {
  if (bucket.le_ms === null || bucket.le_ms === undefined) return `>${number(previous)}`;
  return `≤${number(bucket.le_ms)}`;
}

// The latency histogram as bars, one per bucket from the first to the last that holds any.
export function latencyChart(histogram) {
  const buckets = Array.isArray(histogram) ? histogram : [];
  const used = buckets.map((b, i) => (number(b.count) > 0 ? i : -1)).filter((i) => i >= 0);
  const shown = used.length ? buckets.slice(used[0], used[used.length - 1] + 1) : [];
  const offset = used.length ? used[0] : 0;
  const max = Math.max(1, ...shown.map((b) => number(b.count)));
  const width = 44, gap = 6, height = 90, top = 16, bottom = 30;
  const [w, h] = [Math.max(1, shown.length) * (width + gap) + gap, top + height + bottom];
  const chart = svg("svg", {
    class: "latency-chart", role: "img", width: w, height: h, viewBox: `0 0 ${w} ${h}`,
    "aria-label": "Latency histogram (requests per latency bucket, in milliseconds)",
  });
  shown.forEach((b, i) => {
    const count = number(b.count);
    const h = Math.round((count / max) * height);
    const x = gap + i * (width + gap);
    const previous = offset + i > 0 ? buckets[offset + i - 1].le_ms : 0;
    const bar = svg("rect", { class: "bar", x, y: top + height - h, width, height: Math.max(h, count ? 1 : 0), "data-count": count });
    bar.append(svg("title", {}, `${bucketLabel(b, previous)} ms: ${count} requests`));
    chart.append(
      bar,
      svg("text", { class: "count", x: x + width / 2, y: top + height - h - 3, "text-anchor": "middle" }, String(count)),
      svg("text", { class: "bucket", x: x + width / 2, y: top + height + 14, "text-anchor": "middle" }, bucketLabel(b, previous)),
    );
  });
  chart.append(svg("text", { class: "axis", x: gap, y: top + height + 27 }, "latency, ms"));
  return chart;
}

// Fills `box` (the block's element) for `block`; `el` is the page's element maker.
export function renderLoadTest(box, block, el) {
  box.classList.add("load-test");
  const smoke = block.smoke || { passed: false, calls: 0, failures: [] };
  const failures = Array.isArray(smoke.failures) ? smoke.failures : [];
  box.append(el("strong", {
    class: smoke.passed ? "passed smoke" : "failed smoke",
    text: smoke.passed
      ? `Smoke test of version ${block.version} in ${block.environment}: all ${smoke.calls} calls answered as documented`
      : `Smoke test of version ${block.version} in ${block.environment}: ${failures.length} of ${smoke.calls} calls failed`,
  }));
  if (failures.length) {
    box.append(el("ul", { class: "smoke-failures" }, ...failures.map((f) => el("li", {},
      el("code", { text: `${f.method} ${f.path}` }),
      el("span", { text: ` ${f.status === null || f.status === undefined ? "no answer" : f.status}: ${f.problem}` })))));
  }
  const load = block.load;
  if (!load) return box;
  const stats = [
    ["Requests", `${number(load.requests)} at ${number(load.concurrency)} connections`],
    ["Duration", ms(load.duration_ms)],
    ["Requests/s", number(load.rps).toLocaleString(undefined, { maximumFractionDigits: 1 })],
    ["p50", ms(load.p50_ms)],
    ["p95", ms(load.p95_ms)],
    ["p99", ms(load.p99_ms)],
    ["Errors", `${(number(load.error_rate) * 100).toFixed(1)}% (${number(load.errors)})`],
  ];
  box.append(
    el("dl", { class: "load-stats" }, ...stats.map(([k, v]) => el("div", {}, el("dt", { text: k }), el("dd", { text: v, "data-stat": k })))),
    latencyChart(load.histogram),
  );
  return box;
}
