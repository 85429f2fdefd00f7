"""Plumbing of the oracle: which app runs, its base URL, an HTTP client, and helpers.

`ORACLE_APP` names the spec in `specs/` whose generated app is served at `ORACLE_BASE_URL`;
only its module is collected: `test_NAME.py` for the spec `NAME` or `NAME.VARIANT`.
"""

import datetime as dt
import json
import os
import time
import uuid
from pathlib import Path

import httpx2 as httpx
import pytest

HERE = Path(__file__).parent
APP = os.environ.get("ORACLE_APP", "")
BASE_URL = os.environ.get("ORACLE_BASE_URL", "")

if not APP or not BASE_URL:
    raise pytest.UsageError(
        "set ORACLE_APP (a spec in specs/, without .json) and ORACLE_BASE_URL to the app "
        "generated from it; tests/generated_oracle.rs does"
    )
# `every_type.in_memory.json` is checked by `test_every_type.py`, as `every_type.json` is.
MODULE = f"test_{APP.split('.')[0]}.py"
if not (HERE / MODULE).exists():
    raise pytest.UsageError(f"ORACLE_APP={APP!r} has no module {MODULE}")
collect_ignore = [p.name for p in HERE.glob("test_*.py") if p.name != MODULE]
SPEC = json.loads((HERE / "specs" / f"{APP}.json").read_text())
SQL = SPEC["features"]["database"] != "none"

# Statuses an app may answer for a request it cannot accept; never a 5xx.
REFUSED = {400, 404, 422}


@pytest.fixture(scope="session")
def client():
    with httpx.Client(base_url=BASE_URL, timeout=15.0) as c:
        deadline = time.monotonic() + 20
        while True:
            try:
                if c.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{BASE_URL}/health never answered 200")
            time.sleep(0.1)
        yield c


def marker() -> str:
    """A word no other test uses, to find this test's own records."""
    return "m" + uuid.uuid4().hex[:12]


def ok(response, status=200):
    """The JSON of `response`, after checking its status (the body is in the message)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}, "
        f"expected {status}: {response.text[:800]}"
    )
    if status == 204:
        assert response.content == b"", f"204 with a body: {response.text[:200]}"
        return None
    assert response.headers.get("content-type", "").startswith("application/json")
    return response.json()


def refused(response, *statuses):
    """Checks that `response` is an error with one of `statuses`, as JSON with a `detail`."""
    what = f"{response.request.method} {response.request.url} -> {response.status_code}"
    assert response.status_code in statuses, f"{what}, expected one of {sorted(statuses)}: {response.text[:800]}"
    assert response.headers.get("content-type", "").startswith("application/json"), what
    assert "detail" in response.json(), f"{what}: error without detail: {response.text[:300]}"


def instant(text: str) -> dt.datetime:
    """An ISO 8601 date-time that must carry its offset, as an aware datetime."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, f"{text!r} has no UTC offset"
    return value


def is_utc(text: str) -> bool:
    return instant(text).utcoffset() == dt.timedelta(0)
