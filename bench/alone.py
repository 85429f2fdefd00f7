#!/usr/bin/env python3
"""Kiln alone: what one `kiln serve` takes for a turn of the pipeline (build, test, deploy),
and how its store holds up from 1,000 to 100,000 projects. Run by `bench/run` after the
comparison with the peer (or alone: `BENCH_ONLY=kiln ./bench/run`); standard library only.
It reads what bench.py reads (KILN_BIN, OHA, BENCH_WORK) and, to shorten it:

    BENCH_BUILDS        build turns (default 20)
    BENCH_TESTS         test turns (default 3; the first warms the virtualenv)
    BENCH_DEPLOYS       deploy turns (default 3)
    BENCH_BIG           projects in the large store (default 100000)
    BENCH_SECONDS       seconds of oha per GET (default 10, as bench.py)
"""

import json
import os
import statistics
import subprocess
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bench
from bench import WORK, Server, free_port, ok

BUILDS = int(os.environ.get("BENCH_BUILDS", "20"))
TESTS = int(os.environ.get("BENCH_TESTS", "3"))
DEPLOYS = int(os.environ.get("BENCH_DEPLOYS", "3"))
SMALL = 1000
BIG = int(os.environ.get("BENCH_BIG", "100000"))
POSTS = 2000  # creates measured at each size
# Kept between runs, as a user's data dir keeps it: the first test turn ever makes it.
VENV = Path.home() / ".cache" / "kiln" / "bench-runtime-venv"


def kiln(name: str, extra: dict[str, str] | None = None) -> Server:
    port = free_port()
    return Server(
        name, [os.environ["KILN_BIN"], "serve"],
        {
            "KILN_DATA_DIR": str(WORK / f"{name}-data"),
            "KILN_BIND": f"127.0.0.1:{port}",
            "KILN_MAX_PROJECTS": "100000000",
            **(extra or {}),
        },
        port, WORK,
    )


# --- times -----------------------------------------------------------------------------------


def instant(text: str) -> float:
    """RFC 3339 (as Kiln writes it, any number of fraction digits) to Unix seconds."""
    from datetime import datetime

    date, _, rest = text.partition("T")
    zone = ""
    for sign in ("Z", "+", "-"):
        if sign in rest:
            i = rest.index(sign)
            rest, zone = rest[:i], rest[i:]
            break
    whole, _, fraction = rest.partition(".")
    zone = "+00:00" if zone in ("Z", "") else zone
    base = datetime.fromisoformat(f"{date}T{whole}{zone}").timestamp()
    return base + (float("0." + fraction) if fraction else 0.0)


def span(run: dict, first: callable, last: str) -> float | None:
    """Milliseconds from the start of the first step matching `first` to the end of the last
    step named `last`."""
    steps = run.get("steps") or []
    starts = [s for s in steps if first(s["name"]) and s.get("started_at")]
    ends = [s for s in steps if s["name"] == last and s.get("finished_at")]
    if not starts or not ends:
        return None
    return (instant(ends[-1]["finished_at"]) - instant(starts[0]["started_at"])) * 1000


def breakdown(runs: list[dict], first: str, last: str) -> str:
    """The median time of each step from `first` to `last` over `runs` (a step repeated in a
    run, such as QaCheck, summed, with how many times it ran)."""
    per: dict[str, list[float]] = {}
    times: dict[str, list[int]] = {}
    for r in runs:
        names = [st["name"] for st in r.get("steps") or []]
        if first not in names or last not in names:
            continue
        inside = r["steps"][names.index(first): len(names) - names[::-1].index(last)]
        got: dict[str, float] = {}
        count: dict[str, int] = {}
        for st in inside:
            if st.get("started_at") and st.get("finished_at"):
                ms = (instant(st["finished_at"]) - instant(st["started_at"])) * 1000
                got[st["name"]] = got.get(st["name"], 0.0) + ms
                count[st["name"]] = count.get(st["name"], 0) + 1
        for k, v in got.items():
            per.setdefault(k, []).append(v)
            times.setdefault(k, []).append(count[k])
    parts = []
    for k, v in per.items():
        n = max(times[k])
        parts.append(f"{k}{f' (up to {n} times)' if n > 1 else ''} {statistics.median(v):.1f} ms")
    return ", ".join(parts)


def say(port: int, project: str, content: str, timeout: float = 900) -> dict:
    """Says `content` to the project and waits for its run to end; the run."""
    run = ok(port, "POST", f"/api/v2/projects/{project}/messages", {"content": content})["run"]
    deadline = time.time() + timeout
    while run["status"] in ("queued", "running"):
        if time.time() > deadline:
            raise SystemExit(f"run {run['id']} ({content!r}) did not end in {timeout:.0f} s")
        time.sleep(0.05)
        run = ok(port, "GET", f"/api/v2/projects/{project}/runs/{run['id']}")
    return run


def describe(run: dict) -> str:
    return f"{run['status']}: " + ", ".join(s["name"] for s in run.get("steps") or [])


def stats(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"n": 0}
    p90 = values[min(len(values) - 1, max(0, round(0.9 * len(values) + 0.5) - 1))]
    return {"n": len(values), "median": statistics.median(values), "p90": p90,
            "max": values[-1], "min": values[0]}


# --- turns -----------------------------------------------------------------------------------


def turns() -> tuple[list[str], list[str]]:
    server = kiln("kiln-turns", {
        "KILN_VENV_DIR": str(VENV),
        # The smoke test's load test comes after the span measured; it only adds wall time.
        "KILN_LOAD_TEST_REQUESTS": "0",
    })
    # Kiln keeps one virtualenv per set of requirements under the directory.
    venv_existed = VENV.is_dir() and any(VENV.iterdir())
    server.start()
    rows, notes = [], []
    try:
        port = server.port
        project = ok(port, "POST", "/api/v2/projects", {
            "name": "Tasks",
            "description": "A REST API for tasks with a title, a due date and a priority",
        })["id"]
        # The description's own run (product manager, architect).
        runs = ok(port, "GET", f"/api/v2/projects/{project}/runs?limit=5")["items"]
        for r in runs:
            while r["status"] in ("queued", "running"):
                time.sleep(0.05)
                r = ok(port, "GET", f"/api/v2/projects/{project}/runs/{r['id']}")
        field = 0

        def refine_and_build() -> dict:
            nonlocal field
            field += 1
            r = say(port, project, f"tasks also have a note{field}")
            if r["status"] != "succeeded":
                raise SystemExit(f"refinement {field}: {describe(r)}")
            return say(port, project, "build it")

        print(f"build turns ({BUILDS})…", end="", flush=True)
        builds, reviews, build_runs = [], [], []
        for _ in range(BUILDS):
            r = refine_and_build()
            ms = span(r, lambda n: n == "BackendDeveloper", "Release")
            if r["status"] != "succeeded" or ms is None:
                raise SystemExit(f"a build run: {describe(r)}")
            builds.append(ms)
            build_runs.append(r)
            review = span(r, lambda n: n == "Review", "ReviewCheck")
            if review is not None:
                reviews.append(review)
            print(".", end="", flush=True)
        print(flush=True)
        rows.append(("build: BackendDeveloper start to Release end", stats(builds)))
        notes.append("Build, median of each step: "
                     + breakdown(build_runs, "BackendDeveloper", "Release") + ".")
        # The review after each build (Kiln's checks, ruff, bandit, pip-audit) runs in the
        # runtime virtualenv: the first one makes it when it is not there.
        cold = "made by it" if not venv_existed else f"there already ({VENV})"
        rows.append((f"review after the first build: Review start to ReviewCheck end (virtualenv {cold})",
                     stats(reviews[:1])))
        rows.append(("review after the later builds", stats(reviews[1:])))

        print(f"test turns ({TESTS})…", end="", flush=True)
        tests, test_status, test_runs = [], [], []
        for _ in range(TESTS):
            r = say(port, project, "run the tests")
            ms = span(r, lambda n: n == "QaStart", "QaReport")
            if ms is None:
                raise SystemExit(f"a test run: {describe(r)}")
            tests.append(ms)
            test_runs.append(r)
            test_status.append(r["status"])
            print(".", end="", flush=True)
        print(flush=True)
        rows.append(("test, the first: QaStart start to QaReport end", stats(tests[:1])))
        rows.append(("test, the later ones (warm)", stats(tests[1:])))
        notes.append(f"Test runs ended: {', '.join(test_status)}; median of each step: "
                     + breakdown(test_runs, "QaStart", "QaReport") + ".")

        print(f"deploy turns ({DEPLOYS})…", end="", flush=True)
        deploys, answers, deploy_runs = [], [], []
        for i in range(DEPLOYS):
            if i:
                r = refine_and_build()
                if r["status"] != "succeeded":
                    raise SystemExit(f"a build before a deploy: {describe(r)}")
            r = say(port, project, "deploy it")
            ms = span(r, lambda n: n.startswith("DevOps"), "DevOpsReport")
            if ms is None:
                raise SystemExit(f"a deploy run: {describe(r)}")
            deploys.append(ms)
            deploy_runs.append(r)
            project_doc = ok(port, "GET", f"/api/v2/projects/{project}")
            url = ((project_doc.get("deployments") or [{}])[0]).get("url")
            answers.append(health(url))
            print(".", end="", flush=True)
        print(flush=True)
        rows.append(("deploy to dev: first DevOps step start to DevOpsReport end", stats(deploys)))
        first_devops = next((st["name"] for st in deploy_runs[0]["steps"]
                             if st["name"].startswith("DevOps")), "DevOpsReport")
        notes.append("Deploy, median of each step: "
                     + breakdown(deploy_runs, first_devops, "DevOpsReport") + ".")
        notes.append("Each deployment's URL answered: " + "; ".join(answers) + ".")
    finally:
        server.stop()
    return rows, notes


def health(url: str | None) -> str:
    if not url:
        return "no URL"
    for path in ("/health", "/"):
        try:
            with urllib.request.urlopen(url.rstrip("/") + path, timeout=10) as r:
                if r.status == 200:
                    return f"200 on {path}"
        except OSError as e:
            last = str(e)
    return f"no 200 ({last})"


def turns_table(rows: list) -> str:
    lines = [
        "| turn | n | median ms | p90 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in rows:
        if not s["n"]:
            lines.append(f"| {name} | 0 | - | - | - |")
            continue
        lines.append(f"| {name} | {s['n']} | {s['median']:.1f} | {s['p90']:.1f} | {s['max']:.1f} |")
    return "\n".join(lines)


# --- the store at 1k and 100k ------------------------------------------------------------------


def seed(port: int, count: int, start: int) -> list[str]:
    """`count` projects, name only (no run), from 8 threads."""
    local = threading.local()

    def one(i: int) -> str:
        import http.client

        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/api/v2/projects", json.dumps({"name": f"Seed {i:06d}"}),
                     {"content-type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 201:
            raise SystemExit(f"seeding: {r.status} {body[:200]!r}")
        return json.loads(body)["id"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(start, start + count), chunksize=64))


def load(port: int, method: str, path: str, body: dict | None, status: int,
         seconds: int | None = None, n: int | None = None) -> dict:
    argv = [os.environ["OHA"], "--no-tui", "--output-format", "json",
            "-c", str(bench.CONNECTIONS), "-m", method]
    argv += ["-z", f"{seconds}s", "-w"] if seconds else ["-n", str(n)]
    if body is not None:
        argv += ["-H", "content-type: application/json", "-d", json.dumps(body)]
    argv.append(f"http://127.0.0.1:{port}{path}")
    report = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    codes = {int(k): v for k, v in report.get("statusCodeDistribution", {}).items()}
    p = report.get("latencyPercentiles", {})
    return {
        "rps": report["summary"].get("requestsPerSec") or 0.0,
        "p50": (p.get("p50") or 0.0) * 1000,
        "p99": (p.get("p99") or 0.0) * 1000,
        "errors": sum(report.get("errorDistribution", {}).values())
        + sum(v for c, v in codes.items() if c != status),
    }


def measure_store(server: Server, ids: list[str]) -> dict:
    port = server.port
    out = {}
    for name, method, path, body, status in [
        ("GET a project", "GET", f"/api/v2/projects/{ids[len(ids) // 2]}", None, 200),
        (f"GET a page of {bench.PAGE}", "GET", f"/api/v2/projects?limit={bench.PAGE}", None, 200),
    ]:
        server.settle()
        load(port, method, path, body, status, seconds=1)  # warm-up
        out[name] = load(port, method, path, body, status, seconds=bench.SECONDS)
    server.settle()
    out["POST a project, no description"] = load(
        port, "POST", "/api/v2/projects", {"name": "Bench project"}, 201, n=POSTS)
    return out


def store() -> tuple[str, list[str]]:
    server = kiln("kiln-store")
    server.start()
    notes = []
    try:
        t = time.time()
        ids = seed(server.port, SMALL, 0)
        notes.append(f"Seeded {SMALL:,} projects in {time.time() - t:.1f} s.")
        print(f"store at {SMALL:,} projects…", flush=True)
        small = measure_store(server, ids)
        have = SMALL + POSTS
        t = time.time()
        print(f"growing the store to {BIG:,} projects…", flush=True)
        grow = load(server.port, "POST", "/api/v2/projects", {"name": "Seed"}, 201,
                    n=BIG - have)
        notes.append(
            f"Grew from {have:,} to {BIG:,} projects with oha ({bench.CONNECTIONS} connections) "
            f"in {time.time() - t:.1f} s: {grow['rps']:,.0f} creates/s, p50 {grow['p50']:.2f} ms, "
            f"p99 {grow['p99']:.2f} ms, {grow['errors']} errors."
        )
        print(f"store at {BIG:,} projects…", flush=True)
        big = measure_store(server, ids)
        db = sum(f.stat().st_size for f in (WORK / "kiln-store-data").rglob("*") if f.is_file())
        notes.append(f"Kiln's data dir at the end: {db / 2**20:.0f} MiB.")
    finally:
        server.stop()
    lines = [
        f"| request | p50 / p99 ms at {SMALL // 1000}k | p50 / p99 ms at {BIG // 1000}k "
        f"| ratio {BIG // 1000}k/{SMALL // 1000}k p50 / p99 | rps {SMALL // 1000}k / {BIG // 1000}k "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in small:
        a, b = small[name], big[name]
        r50 = f"{b['p50'] / a['p50']:.2f}x" if a["p50"] else "-"
        r99 = f"{b['p99'] / a['p99']:.2f}x" if a["p99"] else "-"
        lines.append(
            f"| {name} | {a['p50']:.2f} / {a['p99']:.2f} | {b['p50']:.2f} / {b['p99']:.2f} "
            f"| {r50} / {r99} | {a['rps']:,.0f} / {b['rps']:,.0f} | {a['errors'] + b['errors']} |"
        )
    return "\n".join(lines), notes


def main() -> None:
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_avg = [os.getloadavg()[0]]
    which = os.environ.get("BENCH_KILN_PARTS", "turns,store").split(",")
    out = []
    if "turns" in which:
        rows, notes = turns()
        out.append(("Kiln alone: a turn of the pipeline (times from the run's steps)",
                     turns_table(rows), notes))
    if "store" in which:
        t, notes = store()
        out.append((f"Kiln alone: the store at {SMALL:,} and {BIG:,} projects", t, notes))
    load_avg.append(os.getloadavg()[0])
    commit = subprocess.run(["git", "-C", str(bench.HERE), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    bench.print_sections(out)
    print(
        f"- Kiln {commit} (`kiln serve`, serve profile; defaults but KILN_MAX_PROJECTS, and for "
        "the turns KILN_VENV_DIR and KILN_LOAD_TEST_REQUESTS=0); machine: "
        f"{bench.machine()}; load average {load_avg[0]:.2f} at the start and {load_avg[1]:.2f} "
        f"at the end; started {started}."
    )


if __name__ == "__main__":
    main()
