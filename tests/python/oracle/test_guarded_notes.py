"""App (b), `specs/guarded_notes.json`: JWT auth, records in memory, timestamps, soft delete.

Kiln's README for generated apps: register with `POST /auth/register {"username",
"password"}`, get a token from `POST /auth/login`, and send `Authorization: Bearer <token>` to
every resource endpoint; without one the answer is 401. Notes have a title (searched by `?q=`),
a body and a pinned flag, and `created_at`/`updated_at` in UTC.
"""

import base64
import hashlib
import hmac
import json
import os
import time

import pytest

from conftest import instant, is_utc, marker, ok, refused

MISSING = 9007199254740991
PASSWORD = "correct horse battery staple"


def register(client, username=None, password=PASSWORD):
    username = username or f"user_{marker()}"
    return client.post("/auth/register", json={"username": username, "password": password}), username


def login(client, username, password=PASSWORD):
    return client.post("/auth/login", json={"username": username, "password": password})


@pytest.fixture(scope="module")
def account(client):
    response, username = register(client)
    ok(response, 201)
    token = ok(login(client, username))["access_token"]
    return username, token


@pytest.fixture(scope="module")
def auth(account):
    return {"Authorization": f"Bearer {account[1]}"}


def new_note(client, auth, **fields):
    body = {"title": f"Note {marker()}", **fields}
    return ok(client.post("/notes", json=body, headers=auth), 201)


def page_of(client, auth, **params):
    page = ok(client.get("/notes", params=params, headers=auth))
    assert set(page) >= {"items", "total", "limit", "offset"}, page
    return page


def ids(page):
    return sorted(item["id"] for item in page["items"])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed(header: dict, claims: dict, secret: str) -> str:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[header["alg"]]
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(secret.encode(), head.encode(), digest).digest())


def forged_tokens(token: str) -> dict:
    """Tokens an app must refuse, made from a real one: same claims, broken in one way each."""
    head, body, _ = token.split(".")
    header, claims = json.loads(unb64(head)), json.loads(unb64(body))
    forged = {
        "garbage": "not-a-token",
        "tampered signature": token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
        "other secret": signed(header, claims, "some-other-secret-that-is-long-enough-0123456789"),
        "alg none": b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + body + ".",
    }
    secret = os.environ.get("ORACLE_JWT_SECRET")
    if secret and header.get("alg") in ("HS256", "HS384", "HS512"):
        expired = {**claims, "exp": int(time.time()) - 3600}
        if "iat" in claims:
            expired["iat"] = int(time.time()) - 7200
        forged["expired"] = signed(header, expired, secret)
    return forged


def resigned(token: str, secret: str) -> str:
    """The same claims signed again with the app's secret: a token the app must accept."""
    head, body, _ = token.split(".")
    return signed(json.loads(unb64(head)), json.loads(unb64(body)), secret)


def test_health_needs_no_token(client):
    ok(client.get("/health"))


def test_register_then_login_then_me(client):
    response, username = register(client)
    account = ok(response, 201)
    assert account["username"] == username
    assert not any("password" in key or "hash" in key for key in account), account
    token = ok(login(client, username))
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"].count(".") == 2
    me = ok(client.get("/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}))
    assert me["username"] == username


def test_a_username_registers_once(client):
    response, username = register(client)
    ok(response, 201)
    again, _ = register(client, username=username, password="another password entirely")
    refused(again, 409)
    refused(login(client, username, "another password entirely"), 401)
    ok(login(client, username))


@pytest.mark.parametrize(
    "body",
    [
        {"username": "shortpass", "password": "short"},
        {"username": "nopassword"},
        {"password": "a long enough password"},
        {"username": "has space", "password": "a long enough password"},
        {"username": "", "password": "a long enough password"},
        {"username": 12345, "password": "a long enough password"},
        {"username": "extra_field", "password": "a long enough password", "admin": True},
    ],
    ids=repr,
)
def test_invalid_registrations_are_refused(client, body):
    refused(client.post("/auth/register", json=body), 422)


def test_wrong_credentials_are_401(client, account):
    username, _ = account
    refused(login(client, username, "not the password"), 401)
    refused(login(client, f"nobody_{marker()}", PASSWORD), 401)


def test_me_needs_a_token(client):
    refused(client.get("/auth/me"), 401)


def endpoints(note_id):
    return [
        ("GET", "/notes", None),
        ("POST", "/notes", {"title": "sneaky"}),
        ("GET", f"/notes/{note_id}", None),
        ("PATCH", f"/notes/{note_id}", {"title": "sneaky"}),
        ("DELETE", f"/notes/{note_id}", None),
        ("GET", f"/notes/{MISSING}", None),
    ]


def test_every_note_endpoint_is_401_without_a_valid_token(client, auth, account):
    note = new_note(client, auth)
    before = page_of(client, auth, limit=100)["total"]
    headers = {
        "no header": {},
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "bearer without token": {"Authorization": "Bearer"},
    }
    headers |= {why: {"Authorization": f"Bearer {t}"} for why, t in forged_tokens(account[1]).items()}
    assert "expired" in headers, "ORACLE_JWT_SECRET is not set or the token is not HMAC-signed"
    for why, header in headers.items():
        for method, path, body in endpoints(note["id"]):
            response = client.request(method, path, json=body, headers=header)
            assert response.status_code == 401, (
                f"{why}: {method} {path} -> {response.status_code}: {response.text[:300]}"
            )
            assert "bearer" in response.headers.get("www-authenticate", "").lower(), f"{why}: {method} {path}"
    assert ok(client.get(f"/notes/{note['id']}", headers=auth)) == note
    assert page_of(client, auth, limit=100)["total"] == before
    # The forgeries fail for what they break, not for how they were made.
    good = resigned(account[1], os.environ["ORACLE_JWT_SECRET"])
    assert ok(client.get(f"/notes/{note['id']}", headers={"Authorization": f"Bearer {good}"})) == note


def test_note_lifecycle_with_timestamps(client, auth):
    m = marker()
    created = new_note(client, auth, title=f"Groceries {m}", body="milk\neggs — ☕", pinned=True)
    assert (created["title"], created["body"], created["pinned"]) == (f"Groceries {m}", "milk\neggs — ☕", True)
    assert is_utc(created["created_at"]) and is_utc(created["updated_at"])
    assert abs(instant(created["created_at"]).timestamp() - time.time()) < 300
    assert instant(created["updated_at"]) >= instant(created["created_at"])
    assert ok(client.get(f"/notes/{created['id']}", headers=auth)) == created
    assert page_of(client, auth, q=m)["items"] == [created]

    time.sleep(1.05)
    patched = ok(client.patch(f"/notes/{created['id']}", json={"pinned": False}, headers=auth))
    assert patched["pinned"] is False
    assert (patched["title"], patched["body"]) == (created["title"], created["body"])
    assert patched["created_at"] == created["created_at"], "PATCH moved created_at"
    assert instant(patched["updated_at"]) > instant(created["updated_at"]), "PATCH did not move updated_at"
    assert is_utc(patched["updated_at"])
    assert ok(client.get(f"/notes/{created['id']}", headers=auth)) == patched


def test_defaults(client, auth):
    note = new_note(client, auth)
    assert note["pinned"] is False and note["body"] is None


def test_timestamps_are_not_writable(client, auth):
    note = new_note(client, auth)
    for change in ({"created_at": "2000-01-01T00:00:00Z"}, {"updated_at": "2000-01-01T00:00:00Z"}, {"id": 1}):
        response = client.patch(f"/notes/{note['id']}", json=change, headers=auth)
        if response.status_code != 422:
            ok(response)
        assert ok(client.get(f"/notes/{note['id']}", headers=auth)) == note


def test_deleted_notes_are_gone(client, auth):
    m = marker()
    note = new_note(client, auth, title=f"Soon gone {m}")
    keep = new_note(client, auth, title=f"Stays {m}")
    total = page_of(client, auth)["total"]
    ok(client.delete(f"/notes/{note['id']}", headers=auth), 204)
    refused(client.get(f"/notes/{note['id']}", headers=auth), 404)
    refused(client.patch(f"/notes/{note['id']}", json={"title": "back"}, headers=auth), 404)
    refused(client.delete(f"/notes/{note['id']}", headers=auth), 404)
    assert ids(page_of(client, auth, q=m)) == [keep["id"]]
    assert page_of(client, auth)["total"] == total - 1


def test_unknown_ids_are_404(client, auth):
    refused(client.get(f"/notes/{MISSING}", headers=auth), 404)
    refused(client.patch(f"/notes/{MISSING}", json={"title": "x"}, headers=auth), 404)
    refused(client.delete(f"/notes/{MISSING}", headers=auth), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": None},
        {"title": 3},
        {"title": "ok", "pinned": "yes"},
        {"title": "ok", "pinned": None},
        {"title": "ok", "body": ["a", "list"]},
        {"title": "ok", "colour": "red"},
    ],
    ids=repr,
)
def test_invalid_notes_are_refused(client, auth, body):
    m = marker()
    if "title" in body and body["title"] == "ok":
        body = {**body, "title": f"ok {m}"}
    refused(client.post("/notes", json=body, headers=auth), 422)
    assert page_of(client, auth, q=m)["total"] == 0


@pytest.mark.parametrize(
    "change", [{"title": None}, {"title": ""}, {"pinned": None}, {"pinned": "no"}, {"x": 1}], ids=repr
)
def test_invalid_patches_change_nothing(client, auth, change):
    note = new_note(client, auth)
    refused(client.patch(f"/notes/{note['id']}", json=change, headers=auth), 422)
    assert ok(client.get(f"/notes/{note['id']}", headers=auth)) == note


def test_search_and_pages(client, auth):
    m = marker()
    made = sorted(new_note(client, auth, title=f"Paged {m} {i}")["id"] for i in range(5))
    new_note(client, auth, title="unrelated", body=f"mentions {m} only in the body")
    seen = []
    for offset, size in [(0, 2), (2, 2), (4, 1), (5, 0)]:
        page = page_of(client, auth, q=m, limit=2, offset=offset)
        assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (5, 2, offset, size), page
        seen += ids(page)
    assert seen and sorted(seen) == made
    assert ids(page_of(client, auth, q=f"paged {m} 3".upper())) == [made[3]]
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        refused(client.get("/notes", params=params, headers=auth), 400, 422)
