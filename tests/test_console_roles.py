"""Roles on the console: every route declares and checks a permission, each role reaches exactly
its part of the console, hosts run only their own rooms, and administrators manage staff."""

from __future__ import annotations

import re

import pytest

from backend.console.access import PUBLIC
from backend.extensions import db
from backend.staff.models import Staff
from backend.staff.permissions import LIVE_ANY_ROOM, PERMISSIONS, ROLES
from tests.helpers import STAFF_PASSWORD, room_body
from tests.test_console_pages import csrf_token, text

NOWHERE = 999_999  # an id nothing has: a route that lets a role in answers 404, not 403

# One door into each part of the console: (part, method, path, JSON body or None for a page).
PROBES = [
    ("home", "GET", "/console/", None),
    ("stock", "GET", "/console/lots", None),
    ("stock-adjust", "POST", f"/console/lots/{NOWHERE}/adjust", None),
    (
        "fulfil",
        "POST",
        f"/console/api/orders/{NOWHERE}/ship",
        {"carrier": "顺丰", "tracking_no": "SF1234"},
    ),
    ("aftersales", "GET", "/console/api/after-sales", None),
    ("aftersales-decide", "POST", f"/console/api/after-sales/{NOWHERE}/approve", {}),
    ("payments", "GET", "/console/api/payment-anomalies", None),
    ("live", "POST", f"/console/api/live/rooms/{NOWHERE}/shelf", {"sku_id": 1}),
    ("licences", "POST", f"/console/api/licences/{NOWHERE}/suspend", {}),
    ("codes", "GET", f"/console/api/print-runs/{NOWHERE}/codes.csv", None),
    ("flags", "GET", "/console/api/trace-flags", None),
    ("seller-bind", "POST", f"/console/api/sellers/{NOWHERE}/oa-bind-code", {}),
    ("seller-tokens", "POST", f"/console/api/sellers/{NOWHERE}/api-tokens", {}),
    ("platforms", "GET", "/console/api/platform-shops", None),
    ("broadcasts", "GET", "/console/api/broadcasts", None),
    ("staff", "GET", "/console/api/staff", None),
]
ALL = {part for part, *_ in PROBES}
# What each role reaches, written out here rather than read from the permission table.
REACHES = {
    "admin": ALL,
    "operations": {
        "home", "stock", "fulfil", "aftersales", "aftersales-decide", "live", "platforms",
        "broadcasts",
    },
    "warehouse": {"home", "stock", "stock-adjust", "fulfil"},
    "host": {"home", "live"},
    "brand": {"home", "stock", "licences", "codes", "flags", "seller-bind"},
    "finance": {"home", "aftersales", "aftersales-decide", "payments"},
}  # fmt: skip


def _call(console, method: str, path: str, body):
    if body is not None or path.startswith("/console/api/"):
        return console.open(path, method=method, json=body if method != "GET" else None)
    if method == "POST":  # a page's form, with its CSRF token
        return console.post(path, data={"csrf_token": csrf_token(console, "/console/")})
    return console.get(path)


def test_the_roles_are_the_ones_the_alliance_asked_for():
    assert set(ROLES) == set(REACHES)


@pytest.mark.parametrize("role", sorted(REACHES))
def test_each_role_reaches_its_part_of_the_console_and_nothing_else(console_as, role):
    console = console_as(role)
    reached, refused = set(), {}
    for part, method, path, body in PROBES:
        res = _call(console, method, path, body)
        if res.status_code == 403:
            refused[part] = res
        else:
            reached.add(part)
    assert reached == REACHES[role]
    for part, res in refused.items():
        if res.is_json:
            assert res.json["code"] == "PERMISSION_DENIED", part
            assert f"您的角色（{ROLES[role].label}）无权执行此操作" in res.json["message"]
        else:
            assert "无权执行此操作" in text(res), part


def _console_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/console"):
            yield rule, app.view_functions[rule.endpoint]


def test_every_console_route_declares_a_permission(app):
    rules = list(_console_rules(app))
    assert len(rules) > 60
    undeclared = [r.rule for r, view in rules if getattr(view, "permission", None) is None]
    assert undeclared == []
    public = sorted({r.endpoint for r, view in rules if view.permission == PUBLIC})
    assert public == ["console.login", "console.logout", "console_api.login", "console_api.logout"]
    declared = {view.permission for _, view in rules} - {PUBLIC}
    # No permission of the table goes unused (every room is a rule of the live service).
    assert declared == set(PERMISSIONS) - {LIVE_ANY_ROOM}


def test_a_role_without_permissions_is_refused_by_every_console_route(app, store):
    """An account whose role is not in the table (the old catch-all "staff") reaches no route:
    each one checks its permission, not only declares it."""
    with app.app_context():
        db.session.add(
            Staff(
                username="legacy",
                display_name="旧账号",
                role="staff",
                password_hash=db.session.scalar(
                    db.select(Staff.password_hash).where(Staff.username == "admin")
                ),
            )
        )
        db.session.commit()
        db.session.remove()
    console = app.test_client()
    body = {"username": "legacy", "password": "heli-demo"}
    assert console.post("/console/api/login", json=body).status_code == 200
    token = csrf_token(console, "/console/login")
    reached = []
    for rule, view in _console_rules(app):
        if view.permission == PUBLIC:
            continue
        path = _fill(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if path.startswith("/console/api/") or method == "GET":
                res = console.open(path, method=method, json={} if method != "GET" else None)
            else:
                res = console.open(path, method=method, data={"csrf_token": token})
            if res.status_code != 403:
                reached.append((method, rule.rule, res.status_code))
    assert reached == []


def _fill(rule) -> str:
    """The rule's path with an id for each argument that takes one, a code for the others."""
    values = {
        name: "1" if re.fullmatch(converter.regex, "1") else "HL00000000"
        for name, converter in rule._converters.items()
    }
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule.rule)


@pytest.fixture
def two_hosts(console_as, store):
    """Host A's room with a running flash sale; host B has a room of their own."""
    host_a, host_b = console_as("host", "host-a"), console_as("host", "host-b")
    room = host_a.post("/console/api/live/rooms", json=room_body())
    assert room.status_code == 201, room.json
    sale = host_a.post(
        "/console/api/flash-sales",
        json={
            "room_id": room.json["id"],
            "sku_id": store["RS-LIVE-L-5"],
            "units": 10,
            "price": 5900,
            "seconds": 600,
            "per_person_limit": 2,
            "pay_minutes": 5,
        },
    )
    assert sale.status_code == 201, sale.json
    return host_a, host_b, room.json["id"], sale.json["id"]


def test_a_host_cannot_stop_another_hosts_flash_sale(two_hosts, console_as):
    host_a, host_b, room_id, sale_id = two_hosts
    stop = host_b.post(f"/console/api/flash-sales/{sale_id}/stop", json={})
    assert stop.status_code == 403 and stop.json["code"] == "NOT_YOUR_SALE"
    assert host_a.get(f"/console/api/flash-sales/{sale_id}").json["status"] == "RUNNING"

    token = csrf_token(host_b, "/console/live")
    page = host_b.post(
        f"/console/live/rooms/{room_id}/flash-sale/stop",
        data={"csrf_token": token, "sale_id": str(sale_id)},
    )
    assert page.status_code == 403 and "只能管理自己创建的直播间" in text(page)
    assert host_b.get(f"/console/live/rooms/{room_id}").status_code == 403
    assert host_b.get(f"/console/live/rooms/{room_id}/state").json["code"] == "NOT_YOUR_ROOM"
    shelf = host_b.post(f"/console/api/live/rooms/{room_id}/shelf", json={"sku_id": 1})
    assert shelf.status_code == 403
    assert host_a.get(f"/console/api/flash-sales/{sale_id}").json["status"] == "RUNNING"

    # The room's own host, and operations, may stop it.
    operator = console_as("operations")
    stopped = operator.post(f"/console/api/flash-sales/{sale_id}/stop", json={})
    assert stopped.status_code == 200 and stopped.json["status"] == "ENDED"


def test_a_host_runs_their_own_room(two_hosts):
    host_a, _, room_id, sale_id = two_hosts
    assert host_a.get(f"/console/live/rooms/{room_id}").status_code == 200
    stopped = host_a.post(f"/console/api/flash-sales/{sale_id}/stop", json={})
    assert stopped.status_code == 200 and stopped.json["status"] == "ENDED"


def test_a_host_cannot_issue_seller_tokens_or_read_payment_anomalies(console_as, licensed):
    host = console_as("host")
    token = host.post(f"/console/api/sellers/{licensed['seller_id']}/api-tokens", json={})
    assert token.status_code == 403 and "token" not in token.json
    assert host.get("/console/api/payment-anomalies").status_code == 403


def test_the_role_is_read_at_every_request(staff_client, console_as):
    operator = console_as("operations")
    assert operator.get("/console/api/broadcasts").status_code == 200
    res = staff_client.post(f"/console/api/staff/{operator.staff_id}/role", json={"role": "host"})
    assert res.status_code == 200 and res.json["role_label"] == "主播"
    assert operator.get("/console/api/broadcasts").status_code == 403


def test_the_navigation_shows_only_what_the_role_reaches(console_as):
    header = text(console_as("host").get("/console/")).split("<main>")[0]
    assert "直播间" in header and "（主播）" in header
    assert "品牌授权" not in header and "员工账号" not in header and "库存批次" not in header
    admin_header = text(console_as("admin").get("/console/")).split("<main>")[0]
    assert "品牌授权" in admin_header and "员工账号" in admin_header


# --- staff management -------------------------------------------------------------------------


def test_an_admin_creates_a_staff_account_that_can_sign_in(app, staff_client):
    body = {
        "username": "wang.cang",
        "display_name": "王仓",
        "role": "warehouse",
        "password": STAFF_PASSWORD,
    }
    created = staff_client.post("/console/api/staff", json=body)
    assert created.status_code == 201
    assert created.json["role_label"] == "仓库" and created.json["active"] is True
    again = staff_client.post("/console/api/staff", json=body)
    assert again.status_code == 409 and again.json["code"] == "USERNAME_TAKEN"
    login = app.test_client().post(
        "/console/api/login", json={"username": "wang.cang", "password": STAFF_PASSWORD}
    )
    assert login.status_code == 200 and login.json["role"] == "warehouse"
    listed = staff_client.get("/console/api/staff").json
    assert [s["username"] for s in listed["items"]] == ["admin", "wang.cang"]
    assert listed["roles"]["brand"] == "品牌专员"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"role": "boss"}, "请选择角色"),
        ({"password": "short"}, "密码至少 10 个字"),
        ({"username": "王 仓"}, "用户名只能包含字母、数字、下划线、点和短横线"),
    ],
)
def test_bad_staff_input_is_refused_in_chinese(staff_client, change, message):
    body = {"username": "li", "display_name": "李", "role": "host", "password": STAFF_PASSWORD}
    body = {**body, "username": "li.host", **change}
    res = staff_client.post("/console/api/staff", json=body)
    assert res.status_code == 400 and message in str(res.json["details"])


def test_the_console_keeps_an_admin(app, staff_client):
    me = staff_client.get("/console/api/me").json
    refused = staff_client.post(f"/console/api/staff/{me['id']}/disable", json={})
    assert refused.status_code == 409 and refused.json["code"] == "CANNOT_DISABLE_SELF"
    demoted = staff_client.post(f"/console/api/staff/{me['id']}/role", json={"role": "host"})
    assert demoted.status_code == 409 and demoted.json["code"] == "LAST_ADMIN"
    assert staff_client.get("/console/api/staff").status_code == 200


def test_the_staff_page_creates_changes_and_disables_accounts(app, client, store):
    form = {"csrf_token": csrf_token(client), "username": "admin", "password": "heli-demo"}
    assert client.post("/console/login", data=form).status_code == 302

    def post(path: str, **fields):
        token = csrf_token(client, "/console/staff")
        return client.post(path, data={"csrf_token": token, **fields}, follow_redirects=True)

    made = post(
        "/console/staff",
        username="zhao.pp",
        display_name="赵品牌",
        role="brand",
        password=STAFF_PASSWORD,
    )
    assert made.status_code == 200 and "已创建员工账号 zhao.pp（品牌专员）" in text(made)
    with app.app_context():
        staff_id = db.session.scalar(db.select(Staff.id).where(Staff.username == "zhao.pp"))
        db.session.remove()
    short = post(f"/console/staff/{staff_id}/password", password="short")
    assert "密码至少 10 个字" in text(short)
    assert "角色已更新" in text(post(f"/console/staff/{staff_id}/role", role="finance"))
    assert "账号已停用" in text(post(f"/console/staff/{staff_id}/disable"))
    with app.app_context():
        row = db.session.get(Staff, staff_id)
        assert (row.role, row.active) == ("finance", False)
        db.session.remove()
    bad = post("/console/staff", username="x", display_name="", role="host", password="1")
    assert bad.status_code == 400 and "用户名需为 3 到 40 个字符" in text(bad)
