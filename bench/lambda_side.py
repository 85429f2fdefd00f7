#!/usr/bin/env python3
"""The Lambda side: the zipped size of the two bootstraps, and the api function's init and
invocation latency under a local stand-in for the Lambda Runtime API. Standard library only;
run by `bench/run` (or alone: `BENCH_ONLY=lambda ./bench/run`), which passes:

    LAMBDA_TARGET   cargo lambda's target dir (its lambda/{api,agents}/bootstrap, arm64)
    API_BIN         the api function built for this machine (`cargo build --release
                    -p kiln-api-function`)
    BENCH_WORK      an empty directory

The stand-in below is NOT AWS's runtime interface emulator: it is a small HTTP server written
here that speaks the Runtime API's wire format (version 2018-06-01) as far as a bootstrap uses
it: `GET /2018-06-01/runtime/invocation/next` answers the next event with the headers
`Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
`Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` (and blocks while there is
none); `POST …/invocation/{id}/response` and `…/invocation/{id}/error` take the answer;
`POST /2018-06-01/runtime/init/error` takes a failed init. No sandbox, no freezing between
invocations, no memory limit: the process runs as any process on this machine.
"""

import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bench

WORK = bench.WORK
WARM = int(os.environ.get("BENCH_LAMBDA_WARM", "100"))
ARN = "arn:aws:lambda:us-east-1:123456789012:function:kiln-api"


class Runtime(ThreadingHTTPServer):
    """The stand-in Runtime API: events in `pending`, answers timed per request id."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # the bootstrap's connection reset when it is stopped

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.pending: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.handed: dict[str, float] = {}  # request id -> when the event left /next
        self.answers: dict[str, tuple[float, str, bytes]] = {}  # id -> (when, kind, body)
        self.answered = threading.Condition(self.lock)
        self.first_next: float | None = None
        self.init_error: bytes | None = None

    def invoke(self, event: dict, timeout: float = 30) -> tuple[float, float, str, dict]:
        """Queues `event` and waits for its answer: (when it was handed out, when answered,
        kind, body)."""
        rid = str(uuid.uuid4())
        self.pending.put((rid, json.dumps(event).encode()))
        deadline = time.monotonic() + timeout
        with self.answered:
            while rid not in self.answers:
                if self.init_error is not None:
                    raise SystemExit(f"the bootstrap's init failed: {self.init_error[:500]!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"no answer to invocation {rid} in {timeout:.0f} s")
                self.answered.wait(left)
            when, kind, body = self.answers.pop(rid)
            return self.handed.pop(rid), when, kind, json.loads(body or b"null")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Runtime

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != "/2018-06-01/runtime/invocation/next":
            return self.reply(404, b'{"errorType":"NotFound"}')
        s = self.server
        with s.lock:
            if s.first_next is None:
                s.first_next = time.monotonic()
        rid, event = s.pending.get()
        deadline_ms = int(time.time() * 1000) + 30_000
        with s.lock:
            s.handed[rid] = time.monotonic()
        self.reply(200, event, {
            "Lambda-Runtime-Aws-Request-Id": rid,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        })

    def do_POST(self) -> None:
        now = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.split("/")
        s = self.server
        if self.path == "/2018-06-01/runtime/init/error":
            with s.answered:
                s.init_error = body
                s.answered.notify_all()
            return self.reply(202, b'{"status":"OK"}')
        # /2018-06-01/runtime/invocation/{id}/response|error
        if len(parts) == 6 and parts[3] == "invocation" and parts[5] in ("response", "error"):
            with s.answered:
                s.answers[parts[4]] = (now, parts[5], body)
                s.answered.notify_all()
            return self.reply(202, b'{"status":"OK"}')
        self.reply(404, b'{"errorType":"NotFound"}')


def http_event(path: str) -> dict:
    """An API Gateway HTTP API (payload format 2.0) event for `GET path`."""
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", "user-agent": "kiln-bench", "accept": "*/*"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "kiln-bench"},
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }


def environment(runtime_port: int) -> dict[str, str]:
    """What the api function reads (as tests/lib.rs `aws_settings` sets it), with every AWS
    endpoint on a closed local port: the route measured (`/healthz`) calls no AWS service."""
    dead = "http://127.0.0.1:9"
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return {
        **keep,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": "kiln-api",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/kiln-api",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": dead,
        "AWS_EC2_METADATA_DISABLED": "true",
        "KILN_BACKEND": "aws",
        "KILN_TABLE": "kiln",
        "KILN_BUCKET": "kiln-artifacts",
        "KILN_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:kiln",
        "KILN_TEST_PROJECT": "kiln-tests",
        "KILN_IMAGE_PROJECT": "kiln-images",
        "KILN_CLUSTER": "kiln-apps",
        "KILN_LISTENER_ARN": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/kiln/1/1",
        "KILN_VPC_ID": "vpc-12345678",
        "KILN_SUBNETS": "subnet-12345678",
        "KILN_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/kiln-tasks",
        "KILN_APPS_URL": "https://apps.example.com",
        "KILN_STACK_PREFIX": "kiln-bench",
        "KILN_STACK_ROLE_ARN": "arn:aws:iam::123456789012:role/kiln-app-stacks",
        "KILN_APPS_DATABASE_ARN": "arn:aws:rds:us-east-1:123456789012:cluster:kiln-bench-apps",
        "KILN_APPS_DATABASE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-kiln-bench-apps-AbCdEf",
        "KILN_APPS_DATABASE_HOST": "kiln-bench-apps.cluster-abc.us-east-1.rds.amazonaws.com",
        "KILN_S3_PATH_STYLE": "true",
    }


def sizes() -> tuple[str, list[str]]:
    target = Path(os.environ["LAMBDA_TARGET"])
    lines = ["| function | bootstrap bytes | zip -9 bytes | zip MB | under 4 MB |",
             "|---|---:|---:|---:|---|"]
    notes = []
    for f in ("api", "agents"):
        boot = target / "lambda" / f / "bootstrap"
        if not boot.exists():
            lines.append(f"| {f} | missing | - | - | not measured |")
            notes.append(f"{boot} is missing: build it with ./scripts/test (step \"lambda packages\").")
            continue
        arch = boot.read_bytes()[18:20]
        z = WORK / f"{f}.zip"
        z.unlink(missing_ok=True)
        subprocess.run(["zip", "-q", "-9", "-j", str(z), str(boot)], check=True)
        size = z.stat().st_size
        built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(boot.stat().st_mtime))
        lines.append(f"| {f} | {boot.stat().st_size:,} | {size:,} | {size / 1e6:.2f} "
                     f"| {'yes' if size < 4e6 else 'no'} |")
        machine = "arm64" if arch == bytes([0xB7, 0x00]) else "NOT arm64"
        notes.append(f"{f}: {boot} ({machine}), built {built}.")
    return "\n".join(lines), notes


# Where the system's root certificates are, as the api function finds them by itself (no
# SSL_CERT_FILE): Debian keeps them in one bundle and again as a directory of hashed files, and
# reads both; Amazon Linux 2023 (provided.al2023) keeps one bundle.
BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
           "/etc/pki/tls/certs/ca-bundle.crt")


def start_once(binary: str, extra: dict[str, str]) -> dict:
    """Spawns the bootstrap with its first event already queued, then invokes it WARM more
    times: the figures of one start."""
    rt = Runtime()
    threading.Thread(target=rt.serve_forever, daemon=True).start()
    port = rt.server_address[1]
    log = open(WORK / "lambda-api.log", "ab")
    # The first event is waiting before the process starts, as when Lambda starts a sandbox
    # for a request.
    first = http_event("/healthz")
    t_spawn = time.monotonic()
    proc = subprocess.Popen([binary], env={**environment(port), **extra}, stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    (WORK / "pids").mkdir(exist_ok=True)
    (WORK / "pids" / "lambda-api").write_text(str(proc.pid))
    try:
        handed, answered, kind, body = rt.invoke(first)
        if kind != "response" or body.get("statusCode") != 200:
            raise SystemExit(f"the first invocation answered {kind}: {body}")
        figures = {
            "init": (rt.first_next - t_spawn) * 1000,
            "to_first": (answered - t_spawn) * 1000,
            "cold": (answered - handed) * 1000,
            "warm": [],
            "errors": 0,
            "rss": 0,
        }
        for _ in range(WARM):
            h, a, kind, body = rt.invoke(http_event("/healthz"))
            if kind != "response" or body.get("statusCode") != 200:
                figures["errors"] += 1
            figures["warm"].append((a - h) * 1000)
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                figures["rss"] = int(line.split()[1])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        (WORK / "pids" / "lambda-api").unlink(missing_ok=True)
        rt.shutdown()
    figures["warm"].sort()
    return figures


def latency() -> tuple[str, list[str]]:
    binary = os.environ["API_BIN"]
    bundle = next((b for b in BUNDLES if Path(b).exists()), None)
    starts = [("the system's roots, found as the function finds them", {})]
    if bundle:
        starts.append((f"one bundle (SSL_CERT_FILE={bundle}), as Amazon Linux 2023 keeps them",
                       {"SSL_CERT_FILE": bundle}))
    # One start first, not counted: it reads the binary into the page cache, so that the first
    # column is not the only one to pay for that.
    start_once(binary, {})
    runs = [(label, start_once(binary, extra)) for label, extra in starts]
    head = "| measure | " + " | ".join(f"ms: {label}" for label, _ in runs) + " |"
    lines = [head, "|---|" + "---:|" * len(runs)]

    def row(name, pick):
        lines.append(f"| {name} | " + " | ".join(pick(f) for _, f in runs) + " |")

    row("init: spawn to the first `GET …/invocation/next`", lambda f: f"{f['init']:.2f}")
    row("spawn to the first invocation answered", lambda f: f"{f['to_first']:.2f}")
    row("first (cold) invocation: event handed out to response posted", lambda f: f"{f['cold']:.2f}")
    row(f"warm invocation, median of {WARM}", lambda f: f"{statistics.median(f['warm']):.3f}")
    row("warm invocation, p90 / max",
        lambda f: f"{f['warm'][int(0.9 * len(f['warm'])) - 1]:.3f} / {f['warm'][-1]:.3f}")
    errors = sum(f["errors"] for _, f in runs)
    rss = max(f["rss"] for _, f in runs)
    notes = [
        f"`GET /healthz` as an API Gateway HTTP API v2 event, answered 200 ({errors} warm "
        f"invocations answered otherwise); the api function built for this machine "
        f"({binary}, the release profile, x86_64), RSS after the invocations at most "
        f"{rss / 1024:.1f} MiB. /healthz touches no AWS service; the AWS SDK's clients are "
        "built at init with every endpoint on a closed local port and no credentials lookup "
        "beyond the environment, and the root certificates every HTTPS call trusts are read "
        "at init (`kiln::https::read_roots`). The columns differ only in where those are; "
        "each is a new process, after one uncounted start that reads the binary into the "
        "page cache.",
    ]
    return "\n".join(lines), notes


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    which = os.environ.get("BENCH_LAMBDA_PARTS", "size,latency").split(",")
    out = []
    if "size" in which:
        t, notes = sizes()
        out.append(("Lambda side: the bootstraps zipped", t, notes))
    if "latency" in which:
        t, notes = latency()
        out.append(("Lambda side: the api function's init and invocations, on a local "
                    "stand-in for the Runtime API", t, notes))
    bench.print_sections(out)


if __name__ == "__main__":
    main()
