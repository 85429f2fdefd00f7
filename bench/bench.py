#!/usr/bin/env python3
"""Kiln beside its peer: seeds both servers with the same data, loads each endpoint of each
with oha, and prints one markdown table. The driver of `bench/run` (standard library only);
run it through that script, which builds and installs what it needs and passes these:

    KILN_BIN      the `kiln` binary (release build)
    OHA           the `oha` binary
    PEER_PYTHON   the peer's virtualenv's python
    PEER_WORKERS  uvicorn workers for the peer (the machine's cores)
    BENCH_WORK    an empty directory for data and logs (removed by bench/run afterwards)

and, to change the load, BENCH_SECONDS (per endpoint and server, default 10),
BENCH_CONNECTIONS (default 32), BENCH_PROJECTS (default 1000) and BENCH_SETTLE_SECONDS (most
seconds to wait for a server to go idle before a measurement, default 120).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PROJECTS = int(os.environ.get("BENCH_PROJECTS", "1000"))
SETTLE_SECONDS = int(os.environ.get("BENCH_SETTLE_SECONDS", "30"))
CONVERSATION = 50  # messages in the page of the conversation read
PAGE = 20  # projects in the page of projects read
WORK = Path(os.environ["BENCH_WORK"])
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What the seeded projects describe; the product manager reads each into a spec.
DESCRIPTIONS = [
    "Build a REST API for managing tasks",
    "A library API: books have a title, an author and an isbn; members borrow books",
    "An inventory service for products with a name, a price and a quantity",
    "Track workouts: each workout has a date, a duration in minutes and notes",
    "A recipe API: recipes have a title, ingredients and a cooking time in minutes",
]
# The conversation of one project, said until it holds more than CONVERSATION messages (each
# message gets the agents' replies).
CHAT = [
    "Tasks have a title, a due date and a done flag",
    "Add user authentication",
    "Add pagination",
    "Tasks belong to a project; projects have a name and a deadline",
    "What endpoints does it have?",
    "Add timestamps",
    "make the title required",
    "Add search on the title",
    "Use SQLite for the database",
    "Add a notes field to tasks",
    "rename notes to details",
    "Add soft delete",
    "Add CORS",
    "Projects have an owner email",
    "Add rate limiting",
    "Tasks have an estimate in hours",
    "What does it store?",
    "Tasks have a status: open, doing or done",
    "Add a color to projects",
    "What endpoints does it have?",
]


# --- processes -------------------------------------------------------------------------------


def print_sections(sections: list[tuple[str, str, list[str]]]) -> None:
    """Prints each (title, markdown table, notes) under its own heading."""
    for title, table, notes in sections:
        print()
        print(f"### {title}")
        print()
        print(table)
        print()
        print("\n".join(f"- {n}" for n in notes))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children() -> dict[int, list[int]]:
    """Every process's children, from /proc."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    kids, out, todo = children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_kib(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


class Server:
    """A server process (and its children) on 127.0.0.1, stopped with its process group."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, cwd: Path):
        self.name, self.argv, self.env, self.port, self.cwd = name, argv, env, port, cwd
        self.proc: subprocess.Popen | None = None
        self.peak_rss_kib = 0
        self.processes = 0

    def start(self) -> None:
        log = open(WORK / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(
            self.argv, env={**os.environ, **self.env}, cwd=self.cwd, stdin=subprocess.DEVNULL,
            stdout=log, stderr=log, start_new_session=True,
        )
        # bench/run's trap stops what is listed here if this driver dies first.
        (WORK / "pids").mkdir(exist_ok=True)
        (WORK / "pids" / self.name).write_text(str(self.proc.pid))
        deadline = time.time() + 60
        while True:
            try:
                status, _ = request(self.port, "GET", "/api/v2/projects?limit=1")
                if status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"{self.name} did not start; see {WORK / (self.name + '.log')}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        return tree(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def sample(self) -> None:
        pids = self.pids()
        self.peak_rss_kib = max(self.peak_rss_kib, rss_kib(pids))
        self.processes = max(self.processes, len(pids))

    def cpu(self) -> float:
        return cpu_seconds(self.pids())

    def settle(self) -> tuple[float, bool]:
        """Waits until the server uses under 3% of a core over a second (its background work,
        such as Kiln's pipeline runs, is done), at most SETTLE_SECONDS: how long it waited, and
        whether the server did go idle."""
        start = time.time()
        while time.time() - start < SETTLE_SECONDS:
            before = self.cpu()
            time.sleep(1)
            if self.cpu() - before < 0.03:
                return time.time() - start, True
        return time.time() - start, False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        (WORK / "pids" / self.name).unlink(missing_ok=True)


class Sampler(threading.Thread):
    """Samples the servers' resident memory every 100 ms."""

    def __init__(self, servers: list[Server]):
        super().__init__(daemon=True)
        self.servers, self.done = servers, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for s in self.servers:
                s.sample()
            self.done.wait(0.1)


# --- HTTP ------------------------------------------------------------------------------------

_connections: dict[int, http.client.HTTPConnection] = {}


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    """One request on a kept-alive connection; the status and the decoded JSON."""
    conn = _connections.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _connections[port] = conn
    headers = {"content-type": "application/json"} if body is not None else {}
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        del _connections[port]
        raise
    return response.status, json.loads(data) if data else None


def ok(port: int, method: str, path: str, body: dict | None = None) -> dict:
    status, data = request(port, method, path, body)
    if status >= 300:
        raise SystemExit(f"{method} {path} answered {status}: {data}")
    return data


# --- the data --------------------------------------------------------------------------------


def conversation(port: int, project_id: str) -> list[dict]:
    items, cursor = [], None
    while True:
        query = "limit=200" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = ok(port, "GET", f"/api/v2/projects/{project_id}/conversation?{query}")
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def seed_kiln(kiln: Server) -> dict:
    """Makes the data set through Kiln's API (so Kiln's agents write what they write), then
    reads it back: the peer is given the very same documents."""
    port = kiln.port
    ids = []
    for i in range(PROJECTS):
        body = {"name": f"Project {i + 1:04d}", "description": DESCRIPTIONS[i % len(DESCRIPTIONS)]}
        ids.append(ok(port, "POST", "/api/v2/projects", body)["id"])
    talk = ids[0]
    said = 0
    while len(conversation(port, talk)) <= CONVERSATION:
        if said >= 3 * len(CHAT):
            raise SystemExit("the conversation did not grow past 50 messages")
        posted = ok(port, "POST", f"/api/v2/projects/{talk}/messages", {"content": CHAT[said % len(CHAT)]})
        said += 1
        run = posted["run"]
        deadline = time.time() + 60
        while run["status"] in ("queued", "running"):
            if time.time() > deadline:
                raise SystemExit(f"run {run['id']} did not end")
            time.sleep(0.05)
            run = ok(port, "GET", f"/api/v2/projects/{talk}/runs/{run['id']}")
    waited, _ = kiln.settle()
    print(f"seeded Kiln: {PROJECTS} projects, {said} messages said (idle after {waited:.0f} s)", flush=True)
    return {
        "projects": [ok(port, "GET", f"/api/v2/projects/{i}") for i in ids],
        "messages": conversation(port, talk),
        "get": ids[len(ids) // 2],
        "talk": talk,
    }


# --- load ------------------------------------------------------------------------------------


def oha(port: int, endpoint: dict, seconds: int) -> dict:
    argv = [
        os.environ["OHA"], "--no-tui", "--output-format", "json", "-z", f"{seconds}s",
        "-c", str(CONNECTIONS), "-w", "-m", endpoint["method"],
    ]
    if "body" in endpoint:
        argv += ["-H", "content-type: application/json", "-d", json.dumps(endpoint["body"])]
    if "paths" in endpoint:
        # oha picks one of these URLs for each request.
        urls = WORK / f"urls-{port}.txt"
        urls.write_text("".join(f"http://127.0.0.1:{port}{p}\n" for p in endpoint["paths"]))
        argv += ["--urls-from-file", str(urls)]
    else:
        argv.append(f"http://127.0.0.1:{port}{endpoint['path']}")
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def measure(server: Server, endpoint: dict) -> dict:
    server.settle()  # whatever an earlier measurement left running
    if endpoint["method"] == "GET":
        oha(server.port, endpoint, 1)  # warm-up, not counted
    cpu = [server.cpu()]
    report = oha(server.port, endpoint, SECONDS)
    cpu.append(server.cpu())
    # What the server went on doing once the load stopped (Kiln's runs).
    busy, idle = server.settle()
    cpu.append(server.cpu())
    summary = report["summary"]
    codes = {int(k): v for k, v in report.get("statusCodeDistribution", {}).items()}
    failed = sum(report.get("errorDistribution", {}).values())
    wrong = sum(n for code, n in codes.items() if code != endpoint["status"])
    percentiles = report.get("latencyPercentiles", {})
    return {
        "rps": summary.get("requestsPerSec") or 0.0,
        "p50": (percentiles.get("p50") or 0.0) * 1000,
        "p99": (percentiles.get("p99") or 0.0) * 1000,
        "errors": failed + wrong,
        "bytes": summary.get("sizePerRequest") or 0,
        "cpu": cpu[1] - cpu[0],
        # Less the last second, in which it was found idle.
        "after": f"{max(busy - 1, 0):.0f}" if idle else f">{busy:.0f}",
        "cpu_after": cpu[2] - cpu[1],
    }


def endpoints(data: dict) -> list[dict]:
    get, talk = data["get"], data["talk"]
    message = {"content": "Add user authentication"}
    others = [p["id"] for p in data["projects"] if p["id"] != talk]
    return [
        {"name": "GET a project", "method": "GET", "path": f"/api/v2/projects/{get}", "status": 200},
        {"name": f"GET a page of {PAGE} projects", "method": "GET", "path": f"/api/v2/projects?limit={PAGE}", "status": 200},
        {"name": f"GET a conversation of {CONVERSATION} messages", "method": "GET", "path": f"/api/v2/projects/{talk}/conversation?limit={CONVERSATION}", "status": 200},
        {"name": "POST a project, no description", "method": "POST", "path": "/api/v2/projects", "body": {"name": "Bench project"}, "status": 201},
        {"name": "POST a project with a description", "method": "POST", "path": "/api/v2/projects", "body": {"name": "Bench project", "description": DESCRIPTIONS[0]}, "status": 201},
        # Each to one of the other projects: what many people chatting at once look like.
        {"name": f"POST a message, to one of {len(others):,} projects", "method": "POST", "paths": [f"/api/v2/projects/{p}/messages" for p in others], "body": message, "status": 202},
        # All to one project: Kiln runs a project's messages one at a time, so they queue.
        # Last, since on Kiln the queue outlasts the benchmark.
        {"name": "POST a message, all to one project", "method": "POST", "path": f"/api/v2/projects/{talk}/messages", "body": message, "status": 202},
    ]


# --- the report ------------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({model})"


def table(rows: list[tuple[dict, dict, dict]]) -> str:
    lines = [
        "| endpoint | Kiln rps | peer rps | ratio | Kiln p50 / p99 ms | peer p50 / p99 ms | errors Kiln / peer |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e, k, p in rows:
        ratio = f"{k['rps'] / p['rps']:.1f}x" if p["rps"] else "-"
        lines.append(
            f"| {e['name']} | {k['rps']:,.0f} | {p['rps']:,.0f} | {ratio} "
            f"| {k['p50']:.2f} / {k['p99']:.2f} | {p['p50']:.2f} / {p['p99']:.2f} "
            f"| {k['errors']} / {p['errors']} |"
        )
    return "\n".join(lines)


def details(rows: list[tuple[dict, dict, dict]]) -> str:
    lines = [
        "| endpoint | bytes per answer Kiln / peer | server CPU s under load Kiln / peer "
        "| busy after the load: s (CPU s) Kiln / peer |",
        "|---|---:|---:|---:|",
    ]
    for e, k, p in rows:
        lines.append(
            f"| {e['name']} | {k['bytes']:,.0f} / {p['bytes']:,.0f} "
            f"| {k['cpu']:.1f} / {p['cpu']:.1f} "
            f"| {k['after']} ({k['cpu_after']:.1f}) / {p['after']} ({p['cpu_after']:.1f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    # SIGTERM (from bench/run's trap) unwinds like an error: the servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    kiln_port, peer_port = free_port(), free_port()
    kiln = Server(
        "kiln", [os.environ["KILN_BIN"], "serve"],
        {
            "KILN_DATA_DIR": str(WORK / "kiln-data"),
            "KILN_BIND": f"127.0.0.1:{kiln_port}",
            # The default cap (500 projects per owner) is below the data set and the POSTs.
            "KILN_MAX_PROJECTS": "100000000",
        },
        kiln_port, WORK,
    )
    peer = Server(
        "peer",
        [
            os.environ["PEER_PYTHON"], "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
            "--port", str(peer_port), "--workers", os.environ["PEER_WORKERS"],
            "--no-access-log", "--log-level", "warning",
        ],
        {"PEER_DB": str(WORK / "peer.db")},
        peer_port, HERE / "peer",
    )
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    try:
        print(f"seeding Kiln ({PROJECTS} projects, a conversation of more than {CONVERSATION} messages)…", flush=True)
        kiln.start()
        data = seed_kiln(kiln)
        kiln.stop()
        (WORK / "dump.json").write_text(json.dumps(data))
        subprocess.run(
            [os.environ["PEER_PYTHON"], "seed.py", str(WORK / "dump.json")],
            check=True, cwd=HERE / "peer", env={**os.environ, "PEER_DB": str(WORK / "peer.db")},
        )
        print("seeded the peer with the same documents", flush=True)

        # Both run from here on: Kiln again on its seeded data, the peer on its copy.
        kiln.peak_rss_kib = 0
        kiln.start()
        peer.start()
        sampler = Sampler([kiln, peer])
        sampler.start()
        load = [os.getloadavg()[0]]
        rows = []
        for e in endpoints(data):
            print(f"{e['name']}: peer…", end="", flush=True)
            p = measure(peer, e)
            print(" Kiln…", end="", flush=True)
            k = measure(kiln, e)
            print(f" {k['rps']:,.0f} / {p['rps']:,.0f} rps", flush=True)
            rows.append((e, k, p))
        load.append(os.getloadavg()[0])
        sampler.done.set()
        sampler.join()
    finally:
        kiln.stop()
        peer.stop()

    python = subprocess.run(
        [os.environ["PEER_PYTHON"], "-c", "import platform; print(platform.python_version())"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip() or "unknown"
    print()
    print(table(rows))
    print()
    print(
        f"Peak RSS: Kiln {kiln.peak_rss_kib / 1024:.0f} MiB ({kiln.processes} process), "
        f"peer {peer.peak_rss_kib / 1024:.0f} MiB ({peer.processes} processes: uvicorn's "
        f"supervisor, {os.environ['PEER_WORKERS']} workers and multiprocessing's resource tracker)."
    )
    print()
    print(details(rows))
    print()
    notes = [
        f"Kiln {commit} (`kiln serve`, release build, defaults but KILN_MAX_PROJECTS); the peer "
        f"on Python {python}, uvicorn with {os.environ['PEER_WORKERS']} workers.",
        f"oha, {CONNECTIONS} connections, {SECONDS} s per endpoint and server; GETs after a 1 s "
        "warm-up; for each endpoint the peer first, then Kiln, each once idle.",
        f"Data: {PROJECTS} projects made through Kiln's API, one with a conversation of more "
        f"than {CONVERSATION} messages; the peer holds the same documents.",
        "ratio = Kiln rps / peer rps. Errors: failed connections and answers other than the "
        "endpoint's 200, 201 or 202.",
        "Peak RSS: the largest sum of VmRSS over each server's processes, sampled every 100 ms "
        "while the endpoints were loaded.",
        "Kiln's POSTs do more than the peer's: a project with a description and every message "
        "also start a pipeline run (the product manager and the architect read the message, "
        "in-process), so Kiln's answer includes queuing the run and the run's work overlaps the "
        "load; the peer stores the run as queued and nothing more. 'POST a project, no "
        "description' starts no run on either.",
        f"Machine: {machine()}; load average {load[0]:.2f} when the loads began and "
        f"{load[1]:.2f} when they ended; started {started}.",
    ]
    print("\n".join(f"- {n}" for n in notes))


if __name__ == "__main__":
    main()
