"""App (c), `specs/every_type.json` (SQLite) and `specs/every_type.in_memory.json`: events with
one field of every type, no auth.

Kiln's README promises text search (`?q=`) on the text fields asked for (title, description,
organizer, website), exact-match filters on the enum, boolean, number and date fields asked for
(status, public, capacity, price, start_date, starts_at), bounded paging, ISO dates, UTC times.
"""

import datetime as dt

import pytest

from conftest import REFUSED, instant, is_utc, marker, ok, refused

FULL = {
    "title": "Launch party",
    "description": "Line one\nLine two\twith a tab, “quotes”, 'single', Café ☕, 日本語, \\ and ; DROP TABLE events;--",
    "capacity": 120,
    "price": 19.99,
    "public": True,
    "start_date": "2024-02-29",
    "starts_at": "2026-05-01T09:30:00Z",
    "organizer": "ada.lovelace+events@example.co.uk",
    "website": "https://example.com/a/b?x=1&y=two#frag",
    "status": "published",
}
OPTIONAL = ["description", "capacity", "price", "start_date", "starts_at", "organizer", "website", "status"]


def same_value(field, sent, got):
    """Whether `got` is `sent` as it should come back: date-times as the same UTC instant."""
    if field == "starts_at" and sent is not None and got is not None:
        return instant(got) == instant(sent) and is_utc(got)
    if isinstance(sent, bool) or isinstance(got, bool):
        return sent is got
    return sent == got


def assert_record(sent, got):
    for field, value in sent.items():
        assert field in got, f"{field} missing from {got}"
        assert same_value(field, value, got[field]), f"{field}: sent {value!r}, got {got[field]!r}"


def create(client, **fields):
    body = {"title": fields.pop("title", f"event {marker()}"), **fields}
    return ok(client.post("/events", json=body), 201)


def listed(client, **params):
    page = ok(client.get("/events", params=params))
    assert set(page) >= {"items", "total", "limit", "offset"}, page
    return page


def ids(page):
    return [item["id"] for item in page["items"]]


def test_health(client):
    assert ok(client.get("/health")) is not None


def test_the_address_a_deployment_is_announced_at_answers(client):
    # Kiln announces a deployment by its root URL: it must lead somewhere, not to a 404.
    response = client.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_unknown_route_is_a_json_404(client):
    refused(client.get("/no-such-route"), 404)


def test_create_get_list_agree_on_every_field(client):
    m = marker()
    sent = {**FULL, "title": f"Launch party {m}"}
    created = ok(client.post("/events", json=sent), 201)
    assert isinstance(created["id"], int) and created["id"] > 0
    assert_record(sent, created)
    got = ok(client.get(f"/events/{created['id']}"))
    assert got == created
    page = listed(client, q=m)
    assert page["items"] == [created] and page["total"] == 1


def test_optional_fields_are_empty_and_the_flag_false_by_default(client):
    created = create(client)
    assert created["public"] is False
    for field in OPTIONAL:
        assert created[field] is None, f"{field} = {created[field]!r}"
    assert ok(client.get(f"/events/{created['id']}")) == created


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", 19.99),
        ("price", 0.1),
        ("price", 0.125),
        ("price", -2.5),
        ("price", 1234567.891),
        ("price", 0),
        ("price", 1e-06),
        ("capacity", 0),
        ("capacity", -7),
        ("capacity", 9007199254740991),
        ("public", True),
        ("public", False),
        ("start_date", "2024-02-29"),
        ("start_date", "1900-01-01"),
        ("start_date", "9999-12-31"),
        ("starts_at", "2026-05-01T09:30:00Z"),
        ("starts_at", "2026-05-01T09:30:00+00:00"),
        ("starts_at", "2026-05-01T11:30:00+02:00"),
        ("starts_at", "2026-03-29T01:30:00-05:00"),
        ("starts_at", "2026-12-31T23:59:59.123456Z"),
        ("starts_at", "2026-01-01T00:00:00Z"),
        ("organizer", "ada@example.com"),
        ("organizer", "ada.lovelace+events@example.co.uk"),
        ("website", "https://example.com"),
        ("website", "http://localhost:8080/path"),
        ("website", "https://example.com/a/b?x=1&y=two#frag"),
        ("status", "draft"),
        ("status", "published"),
        ("status", "cancelled"),
        ("description", "Line one\nLine two\ttab “q” Café ☕ 日本語 \\ ' \" %_ ; DROP TABLE events;--"),
        ("title", 'Émile\'s "quoted" title — ☕'),
    ],
)
def test_values_round_trip_exactly(client, field, value):
    created = create(client, **{field: value})
    assert same_value(field, value, created[field]), f"POST: sent {value!r}, got {created[field]!r}"
    got = ok(client.get(f"/events/{created['id']}"))
    assert same_value(field, value, got[field]), f"GET: sent {value!r}, got {got[field]!r}"


def test_a_date_time_without_offset_is_refused_or_read_as_utc(client):
    response = client.post("/events", json={"title": f"naive {marker()}", "starts_at": "2026-05-01T09:30:00"})
    if response.status_code == 201:
        got = ok(client.get(f"/events/{response.json()['id']}"))["starts_at"]
        assert instant(got) == dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC), got
    else:
        refused(response, 422)


ABSENT = object()


def case(why, fields, *marks):
    return pytest.param(why, fields, id=why, marks=marks)


INVALID = [
    case("no title", {"title": ABSENT}),
    case("empty title", {"title": ""}),
    case("title a number", {"title": 42}),
    case("title null", {"title": None}),
    case("capacity a word", {"capacity": "lots"}),
    case("capacity a fraction", {"capacity": 1.5}),
    case("capacity a numeric string", {"capacity": "5"}),
    case("capacity a boolean", {"capacity": True}),
    case("capacity beyond 2^53", {"capacity": 9007199254740992}),
    case("price a word", {"price": "cheap"}),
    case("price a numeric string", {"price": "19.99"}),
    case("price a boolean", {"price": False}),
    case("public a word", {"public": "yes"}),
    case("public a string", {"public": "true"}),
    case("public a number", {"public": 1}),
    case("public null", {"public": None}),
    case("start_date impossible", {"start_date": "2026-02-30"}),
    case("start_date not ISO", {"start_date": "05/01/2026"}),
    case("start_date a number", {"start_date": 20260501}),
    case("starts_at a word", {"starts_at": "tomorrow"}),
    case("starts_at hour 25", {"starts_at": "2026-05-01T25:00:00Z"}),
    case("starts_at after 9999 in UTC", {"starts_at": "9999-12-31T23:00:00-05:00"}),
    case("starts_at before year 1 in UTC", {"starts_at": "0001-01-01T00:30:00+01:00"}),
    case("organizer not an email", {"organizer": "not-an-email"}),
    case("organizer two ats", {"organizer": "a@@example.com"}),
    case("website not a URL", {"website": "not a url"}),
    case("website ftp", {"website": "ftp://example.com/file"}),
    case("website javascript", {"website": "javascript:alert(1)"}),
    case("status not allowed", {"status": "archived"}),
    case("status in other case", {"status": "Published"}),
    case("unknown field", {"colour": "red"}),
    case("id given", {"id": 12345}),
]


@pytest.mark.parametrize(("why", "fields"), INVALID)
def test_invalid_bodies_are_refused_with_422_and_store_nothing(client, why, fields):
    m = marker()
    body = {"title": "invalid", "description": f"refused {m}", **fields}
    body = {k: v for k, v in body.items() if v is not ABSENT}
    refused(client.post("/events", json=body), 422)
    assert listed(client, q=m)["total"] == 0, f"{why}: the refused record was stored"


@pytest.mark.parametrize("number", ["1e400", "-1e400"])
@pytest.mark.parametrize("field", ["price", "capacity"])
def test_numbers_beyond_a_double_are_422_not_500(client, field, number):
    m = marker()
    raw = f'{{"title": "huge {m}", "{field}": {number}}}'.encode()
    refused(client.post("/events", content=raw, headers={"content-type": "application/json"}), 422)
    assert listed(client, q=m)["total"] == 0
    before = create(client)
    raw = f'{{"{field}": {number}}}'.encode()
    refused(client.patch(f"/events/{before['id']}", content=raw, headers={"content-type": "application/json"}), 422)
    assert ok(client.get(f"/events/{before['id']}")) == before


def test_bodies_that_are_not_an_object_are_refused(client):
    refused(client.post("/events", content=b"{not json", headers={"content-type": "application/json"}), 400, 422)
    refused(client.post("/events", json=[{"title": "in a list"}]), 400, 422)
    refused(client.post("/events", json="a string"), 400, 422)


PATCHES = [
    ("title", "Renamed"),
    ("description", "Another description"),
    ("capacity", 99),
    ("price", 0.5),
    ("public", False),
    ("start_date", "2027-01-02"),
    ("starts_at", "2027-01-02T03:04:05Z"),
    ("organizer", "grace@example.org"),
    ("website", "https://kiln.example/new"),
    ("status", "cancelled"),
]


@pytest.mark.parametrize(("field", "value"), PATCHES, ids=[f for f, _ in PATCHES])
def test_patch_changes_the_field_given_and_nothing_else(client, field, value):
    before = create(client, **FULL)
    patched = ok(client.patch(f"/events/{before['id']}", json={field: value}))
    assert same_value(field, value, patched[field]), f"{field}: sent {value!r}, got {patched[field]!r}"
    for other, old in before.items():
        if other != field:
            assert patched[other] == old, f"PATCH {field} changed {other}: {old!r} -> {patched[other]!r}"
    assert ok(client.get(f"/events/{before['id']}")) == patched


def test_patch_of_every_field_at_once(client):
    before = create(client, **FULL)
    change = dict(PATCHES)
    patched = ok(client.patch(f"/events/{before['id']}", json=change))
    assert_record(change, patched)
    assert patched["id"] == before["id"]
    assert ok(client.get(f"/events/{before['id']}")) == patched


def test_patch_with_nothing_changes_nothing(client):
    before = create(client, **FULL)
    assert ok(client.patch(f"/events/{before['id']}", json={})) == before


def test_patch_null_empties_optional_fields(client):
    before = create(client, **FULL)
    patched = ok(client.patch(f"/events/{before['id']}", json=dict.fromkeys(OPTIONAL)))
    for field in OPTIONAL:
        assert patched[field] is None, f"{field} = {patched[field]!r}"
    assert patched["title"] == before["title"] and patched["public"] is before["public"]
    assert ok(client.get(f"/events/{before['id']}")) == patched


@pytest.mark.parametrize(
    "change",
    [
        {"title": None},
        {"title": ""},
        {"public": None},
        {"public": "no"},
        {"capacity": "many"},
        {"price": "free"},
        {"start_date": "2026-13-01"},
        {"starts_at": "noon"},
        {"organizer": "nobody"},
        {"website": "example.com"},
        {"status": "archived"},
        {"colour": "red"},
        {"title": "fine", "status": "archived"},
    ],
    ids=repr,
)
def test_invalid_patches_are_refused_and_change_nothing(client, change):
    before = create(client, **FULL)
    refused(client.patch(f"/events/{before['id']}", json=change), 422)
    assert ok(client.get(f"/events/{before['id']}")) == before


def test_delete_removes_the_record(client):
    m = marker()
    created = create(client, title=f"doomed {m}")
    assert ok(client.delete(f"/events/{created['id']}"), 204) is None
    refused(client.get(f"/events/{created['id']}"), 404)
    refused(client.patch(f"/events/{created['id']}", json={"title": "back"}), 404)
    refused(client.delete(f"/events/{created['id']}"), 404)
    assert listed(client, q=m)["total"] == 0


def test_unknown_ids_are_404(client):
    missing = 9007199254740991
    refused(client.get(f"/events/{missing}"), 404)
    refused(client.patch(f"/events/{missing}", json={"title": "x"}), 404)
    refused(client.delete(f"/events/{missing}"), 404)


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.5", "9223372036854775808", "99999999999999999999999"])
def test_malformed_ids_are_refused_without_a_server_error(client, bad):
    for response in (
        client.get(f"/events/{bad}"),
        client.patch(f"/events/{bad}", json={"title": "x"}),
        client.delete(f"/events/{bad}"),
    ):
        refused(response, *REFUSED)


def test_search_matches_substrings_of_every_text_field(client):
    m = marker()
    title = create(client, title=f"Title {m}a here")
    description = create(client, title="plain", description=f"about {m}b, and more")
    organizer = create(client, title="plain", organizer=f"{m}c@example.com")
    website = create(client, title="plain", website=f"https://{m}d.example/path")
    for suffix, record in [("a", title), ("b", description), ("c", organizer), ("d", website)]:
        assert ids(listed(client, q=f"{m}{suffix}")) == [record["id"]], suffix
    assert sorted(ids(listed(client, q=m))) == sorted(r["id"] for r in (title, description, organizer, website))
    assert listed(client, q=f"{m}zzz")["total"] == 0


def test_search_ignores_case(client):
    m = marker()
    record = create(client, title=f"Mixed Case {m}")
    assert ids(listed(client, q=f"mixed case {m.upper()}")) == [record["id"]]


def test_search_ignores_case_beyond_ascii(client):
    m = marker()
    record = create(client, title=f"Fête {m} ÉTÉ")
    assert ids(listed(client, q=f"FÊTE {m}")) == [record["id"]]
    assert ids(listed(client, q=f"{m} été")) == [record["id"]]


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_search_takes_wildcard_characters_literally(client, wildcard):
    m = marker()
    literal = create(client, title=f"{m} 50{wildcard}off")
    create(client, title=f"{m} 50Xoff")
    assert ids(listed(client, q=f"{m} 50{wildcard}off")) == [literal["id"]]


@pytest.fixture(scope="module")
def catalogue(client):
    """Events sharing a marker, differing in every filtered field."""
    m = marker()
    rows = [
        {
            "capacity": 10,
            "price": 19.99,
            "public": True,
            "start_date": "2026-05-01",
            "starts_at": "2026-05-01T09:30:00Z",
            "status": "published",
        },
        {
            "capacity": 10,
            "price": 5.5,
            "public": False,
            "start_date": "2026-05-02",
            "starts_at": "2026-05-02T18:00:00Z",
            "status": "draft",
        },
        {
            "capacity": 20,
            "price": 19.99,
            "public": False,
            "start_date": "2026-05-01",
            "starts_at": "2026-05-01T09:30:01Z",
            "status": "cancelled",
        },
        {"capacity": None, "price": None, "public": True, "start_date": None, "starts_at": None, "status": None},
        {
            "capacity": -3,
            "price": 0.1,
            "public": False,
            "start_date": "2024-02-29",
            "starts_at": "2026-12-31T23:59:59.123456Z",
            "status": "draft",
        },
    ]
    created = [create(client, title=f"{m} row {i}", **row) for i, row in enumerate(rows)]
    return m, [r["id"] for r in created]


@pytest.mark.parametrize(
    ("params", "rows"),
    [
        ({"status": "published"}, [0]),
        ({"status": "draft"}, [1, 4]),
        ({"capacity": "-3"}, [4]),
        ({"price": "0.1"}, [4]),
        ({"start_date": "2024-02-29"}, [4]),
        ({"starts_at": "2026-12-31T23:59:59.123456Z"}, [4]),
        ({"starts_at": "2027-01-01T00:59:59.123456+01:00"}, [4]),
        ({"starts_at": "2026-12-31T23:59:59Z"}, []),
        ({"public": "true"}, [0, 3]),
        ({"public": "false"}, [1, 2, 4]),
        ({"capacity": "10"}, [0, 1]),
        ({"capacity": "20"}, [2]),
        ({"capacity": "11"}, []),
        ({"price": "19.99"}, [0, 2]),
        ({"price": "5.5"}, [1]),
        ({"start_date": "2026-05-01"}, [0, 2]),
        ({"starts_at": "2026-05-01T09:30:00Z"}, [0]),
        ({"starts_at": "2026-05-01T11:30:00+02:00"}, [0]),
        ({"starts_at": "2026-05-02T18:00:00+00:00"}, [1]),
        ({"status": "published", "public": "true"}, [0]),
        ({"capacity": "10", "price": "19.99"}, [0]),
        ({"public": "false", "start_date": "2026-05-01", "status": "cancelled"}, [2]),
        ({"public": "true", "status": "draft"}, []),
        ({"status": "draft", "price": "0.1", "capacity": "-3"}, [4]),
    ],
    ids=repr,
)
def test_filters_match_exactly_and_combine(client, catalogue, params, rows):
    m, all_ids = catalogue
    page = listed(client, q=m, **params)
    assert sorted(ids(page)) == sorted(all_ids[i] for i in rows), params
    assert page["total"] == len(rows)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "archived"},
        {"public": "maybe"},
        {"capacity": "ten"},
        {"capacity": "1.5"},
        {"price": "cheap"},
        {"start_date": "2026-02-30"},
        {"start_date": "tomorrow"},
        {"starts_at": "noon"},
        {"starts_at": "9999-12-31T23:00:00-05:00"},
    ],
    ids=repr,
)
def test_invalid_filter_values_are_refused(client, params):
    refused(client.get("/events", params=params), 400, 422)


def test_pages_cover_every_record_once(client):
    m = marker()
    made = sorted(create(client, title=f"{m} page {i}")["id"] for i in range(7))
    seen = []
    for offset, size in [(0, 3), (3, 3), (6, 1), (7, 0)]:
        page = listed(client, q=m, limit=3, offset=offset)
        assert (page["total"], page["limit"], page["offset"]) == (7, 3, offset), page
        assert len(page["items"]) == size, (offset, page)
        seen += ids(page)
    assert sorted(seen) == made, "pages overlap or miss records"
    assert listed(client, q=m, limit=3) == listed(client, q=m, limit=3), "order is not stable"
    assert listed(client, q=m, offset=1000)["items"] == []


def test_limit_defaults_to_50_and_is_bounded(client):
    page = listed(client)
    assert (page["limit"], page["offset"]) == (50, 0)
    assert len(page["items"]) <= 50
    assert listed(client, limit=100)["limit"] == 100
    assert listed(client, limit=1)["limit"] == 1
    for params in ({"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "ten"}, {"offset": -1}, {"offset": "x"}):
        refused(client.get("/events", params=params), 400, 422)


def test_total_counts_every_match_not_just_the_page(client):
    m = marker()
    for i in range(3):
        create(client, title=f"{m} counted {i}", status="draft")
    page = listed(client, q=m, status="draft", limit=1)
    assert page["total"] == 3 and len(page["items"]) == 1
