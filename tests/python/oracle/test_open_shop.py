"""App (a), `specs/open_shop.json`: no auth, SQLite, customers and their orders.

A customer has a name (searched by `?q=`), a unique email and a birth date; an order belongs
to a customer (`customer_id`) and has a total, a paid flag, a status from new/shipped/delivered
(both filtered), an item count and notes. A missing linked record is a 409 (Kiln's README).
"""

import pytest

from conftest import REFUSED, marker, ok, refused

MISSING = 9007199254740991


def new_customer(client, **fields):
    m = marker()
    body = {"name": f"Customer {m}", "email": f"{m}@example.com", **fields}
    return ok(client.post("/customers", json=body), 201)


def new_order(client, customer_id, **fields):
    body = {"total": 10.0, "customer_id": customer_id, **fields}
    return ok(client.post("/orders", json=body), 201)


def page_of(client, path, **params):
    page = ok(client.get(path, params=params))
    assert set(page) >= {"items", "total", "limit", "offset"}, page
    return page


def ids(page):
    return sorted(item["id"] for item in page["items"])


def test_health_and_no_auth_routes(client):
    ok(client.get("/health"))
    refused(client.post("/auth/register", json={"username": "someone", "password": "long-enough-1"}), 404, 405)
    refused(client.post("/auth/login", json={"username": "someone", "password": "long-enough-1"}), 404, 405)


def test_resources_need_no_token(client):
    ok(client.get("/customers"))
    ok(client.get("/orders"))


def test_customer_lifecycle(client):
    m = marker()
    sent = {"name": f"Ada {m}", "email": f"ada.{m}@example.com", "birth_date": "1815-12-10"}
    created = ok(client.post("/customers", json=sent), 201)
    assert {k: created[k] for k in sent} == sent
    assert isinstance(created["id"], int) and created["id"] > 0
    assert ok(client.get(f"/customers/{created['id']}")) == created
    assert page_of(client, "/customers", q=m)["items"] == [created]

    patched = ok(client.patch(f"/customers/{created['id']}", json={"birth_date": "1815-12-11"}))
    assert patched == {**created, "birth_date": "1815-12-11"}
    patched = ok(client.patch(f"/customers/{created['id']}", json={"name": f"Augusta Ada {m}"}))
    assert patched == {**created, "birth_date": "1815-12-11", "name": f"Augusta Ada {m}"}
    patched = ok(client.patch(f"/customers/{created['id']}", json={"birth_date": None}))
    assert patched["birth_date"] is None and patched["email"] == sent["email"]
    assert ok(client.get(f"/customers/{created['id']}")) == patched

    ok(client.delete(f"/customers/{created['id']}"), 204)
    refused(client.get(f"/customers/{created['id']}"), 404)
    refused(client.patch(f"/customers/{created['id']}", json={"name": "x"}), 404)
    refused(client.delete(f"/customers/{created['id']}"), 404)
    assert page_of(client, "/customers", q=m)["total"] == 0


def test_order_lifecycle_and_defaults(client):
    customer = new_customer(client)
    created = new_order(client, customer["id"], total=1234.56, item_count=3, notes="Leave at the door\n— thanks ☕")
    assert created["customer_id"] == customer["id"]
    assert created["paid"] is False and created["status"] == "new"
    assert created["total"] == 1234.56 and created["item_count"] == 3
    assert created["notes"] == "Leave at the door\n— thanks ☕"
    assert ok(client.get(f"/orders/{created['id']}")) == created

    patched = ok(client.patch(f"/orders/{created['id']}", json={"paid": True}))
    assert patched == {**created, "paid": True}
    patched = ok(client.patch(f"/orders/{created['id']}", json={"status": "shipped"}))
    assert patched == {**created, "paid": True, "status": "shipped"}
    patched = ok(client.patch(f"/orders/{created['id']}", json={"total": 0.1, "item_count": None, "notes": None}))
    assert patched == {**created, "paid": True, "status": "shipped", "total": 0.1, "item_count": None, "notes": None}
    assert ok(client.get(f"/orders/{created['id']}")) == patched

    ok(client.delete(f"/orders/{created['id']}"), 204)
    refused(client.get(f"/orders/{created['id']}"), 404)
    refused(client.delete(f"/orders/{created['id']}"), 404)
    assert ok(client.get(f"/customers/{customer['id']}")) == customer


@pytest.mark.parametrize("total", [19.99, 0.125, 0, -3.5, 1e-06, 12345678.9])
def test_totals_round_trip_exactly(client, total):
    order = new_order(client, new_customer(client)["id"], total=total)
    assert order["total"] == total
    assert ok(client.get(f"/orders/{order['id']}"))["total"] == total


@pytest.mark.parametrize("birth_date", ["2000-02-29", "1900-01-01", "2024-12-31"])
def test_birth_dates_round_trip_exactly(client, birth_date):
    customer = new_customer(client, birth_date=birth_date)
    assert customer["birth_date"] == birth_date
    assert ok(client.get(f"/customers/{customer['id']}"))["birth_date"] == birth_date


def test_an_order_for_a_missing_customer_is_a_409(client):
    m = marker()
    refused(client.post("/orders", json={"total": 1.0, "customer_id": MISSING, "notes": m}), 409)
    order = new_order(client, new_customer(client)["id"])
    refused(client.patch(f"/orders/{order['id']}", json={"customer_id": MISSING}), 409)
    assert ok(client.get(f"/orders/{order['id']}")) == order


def test_an_order_moves_to_another_customer(client):
    first, second = new_customer(client), new_customer(client)
    order = new_order(client, first["id"])
    moved = ok(client.patch(f"/orders/{order['id']}", json={"customer_id": second["id"]}))
    assert moved == {**order, "customer_id": second["id"]}
    assert ids(page_of(client, "/orders", customer_id=first["id"])) == []
    assert ids(page_of(client, "/orders", customer_id=second["id"])) == [order["id"]]


def test_deleting_a_customer_never_leaves_orphan_orders(client):
    customer = new_customer(client)
    order = new_order(client, customer["id"])
    response = client.delete(f"/customers/{customer['id']}")
    if response.status_code == 409:
        refused(response, 409)
        assert ok(client.get(f"/customers/{customer['id']}")) == customer
        assert ok(client.get(f"/orders/{order['id']}")) == order
    else:
        ok(response, 204)
        refused(client.get(f"/orders/{order['id']}"), 404)
    lonely = new_customer(client)
    ok(client.delete(f"/customers/{lonely['id']}"), 204)


def test_emails_are_unique(client):
    first = new_customer(client)
    m = marker()
    refused(client.post("/customers", json={"name": f"Twin {m}", "email": first["email"]}), 409)
    assert page_of(client, "/customers", q=m)["total"] == 0
    second = new_customer(client)
    refused(client.patch(f"/customers/{second['id']}", json={"email": first["email"]}), 409)
    assert ok(client.get(f"/customers/{second['id']}")) == second
    assert ok(client.patch(f"/customers/{first['id']}", json={"email": first["email"]})) == first


def test_orders_filter_by_customer_status_and_paid(client):
    a, b = new_customer(client), new_customer(client)
    o1 = new_order(client, a["id"], status="new", paid=False)
    o2 = new_order(client, a["id"], status="shipped", paid=True)
    o3 = new_order(client, a["id"], status="delivered", paid=True)
    o4 = new_order(client, b["id"], status="shipped", paid=False)
    assert ids(page_of(client, "/orders", customer_id=a["id"])) == sorted([o1["id"], o2["id"], o3["id"]])
    assert ids(page_of(client, "/orders", customer_id=b["id"])) == [o4["id"]]
    assert ids(page_of(client, "/orders", customer_id=a["id"], status="shipped")) == [o2["id"]]
    assert ids(page_of(client, "/orders", customer_id=a["id"], paid="true")) == sorted([o2["id"], o3["id"]])
    assert ids(page_of(client, "/orders", customer_id=a["id"], paid="false")) == [o1["id"]]
    both = page_of(client, "/orders", customer_id=a["id"], paid="true", status="delivered")
    assert ids(both) == [o3["id"]] and both["total"] == 1
    shipped = page_of(client, "/orders", status="shipped", limit=100)
    assert {o2["id"], o4["id"]} <= {o["id"] for o in shipped["items"]} or shipped["total"] > 100
    assert all(o["status"] == "shipped" for o in shipped["items"])
    for params in ({"status": "lost"}, {"paid": "sometimes"}, {"customer_id": "abc"}, {"customer_id": 0}):
        refused(client.get("/orders", params=params), 400, 422)


def test_customers_search_by_name(client):
    m = marker()
    ada = new_customer(client, name=f"Ada {m} Lovelace")
    grace = new_customer(client, name=f"Grace {m} Hopper")
    assert ids(page_of(client, "/customers", q=m)) == sorted([ada["id"], grace["id"]])
    assert ids(page_of(client, "/customers", q=f"{m} lovelace")) == [ada["id"]]
    assert page_of(client, "/customers", q=f"{m}-nobody")["total"] == 0


def test_customer_pages(client):
    m = marker()
    made = sorted(new_customer(client, name=f"Paged {m} {i}")["id"] for i in range(5))
    seen = []
    for offset, size in [(0, 2), (2, 2), (4, 1), (5, 0)]:
        page = page_of(client, "/customers", q=m, limit=2, offset=offset)
        assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (5, 2, offset, size), page
        seen += ids(page)
    assert sorted(seen) == made
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        refused(client.get("/customers", params=params), 400, 422)
        refused(client.get("/orders", params=params), 400, 422)


ABSENT = object()


def case(why, change, *marks):
    """A body that must be refused: the valid one with `change` (ABSENT drops a field)."""
    return pytest.param(why, change, id=why, marks=marks)


def body_with(valid, change):
    return {k: v for k, v in {**valid, **change}.items() if v is not ABSENT}


CUSTOMER_INVALID = [
    case("no name", {"name": ABSENT}),
    case("empty name", {"name": ""}),
    case("no email", {"email": ABSENT}),
    case("email not an email", {"email": "ada-at-example"}),
    case("birth_date impossible", {"birth_date": "2023-02-29"}),
    case("birth_date not ISO", {"birth_date": "10 Dec 1815"}),
    case("unknown field", {"phone": "555"}),
]


@pytest.mark.parametrize(("why", "change"), CUSTOMER_INVALID)
def test_invalid_customers_are_refused(client, why, change):
    m = marker()
    body = body_with({"name": f"Bad {m}", "email": f"{m}@example.com"}, change)
    refused(client.post("/customers", json=body), 422)
    assert page_of(client, "/customers", q=m)["total"] == 0, f"{why}: stored anyway"


ORDER_INVALID = [
    case("no total", {"total": ABSENT}),
    case("no customer", {"customer_id": ABSENT}),
    case("total a word", {"total": "free"}),
    case("total a boolean", {"total": True}),
    case("total a numeric string", {"total": "12.5"}),
    case("paid a word", {"paid": "yes"}),
    case("status not allowed", {"status": "cancelled"}),
    case("status null", {"status": None}),
    case("item_count a fraction", {"item_count": 2.5}),
    case("notes a number", {"notes": 7}),
    case("customer_id a word", {"customer_id": "abc"}),
    case("unknown field", {"discount": 5}),
]


@pytest.mark.parametrize(("why", "change"), ORDER_INVALID)
def test_invalid_orders_are_refused(client, why, change):
    customer = new_customer(client)
    body = body_with({"total": 5.0, "customer_id": customer["id"]}, change)
    refused(client.post("/orders", json=body), 422)
    assert page_of(client, "/orders", customer_id=customer["id"])["total"] == 0, f"{why}: stored anyway"


@pytest.mark.parametrize(
    "change",
    [{"total": None}, {"paid": None}, {"status": None}, {"status": "lost"}, {"customer_id": None}, {"total": "x"}],
    ids=repr,
)
def test_invalid_order_patches_change_nothing(client, change):
    order = new_order(client, new_customer(client)["id"])
    refused(client.patch(f"/orders/{order['id']}", json=change), 422)
    assert ok(client.get(f"/orders/{order['id']}")) == order


@pytest.mark.parametrize("path", ["/customers", "/orders"])
def test_unknown_and_malformed_ids(client, path):
    refused(client.get(f"{path}/{MISSING}"), 404)
    refused(client.patch(f"{path}/{MISSING}", json={}), 404)
    refused(client.delete(f"{path}/{MISSING}"), 404)
    for bad in ("0", "-5", "abc", "18446744073709551616"):
        refused(client.get(f"{path}/{bad}"), *REFUSED)
        refused(client.delete(f"{path}/{bad}"), *REFUSED)
