"""Test helpers that act as a phone would: log in through the sandbox, order, pay."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from rq import Queue, SimpleWorker

from backend import demo
from backend.catalogue.models import Sku
from backend.extensions import db
from backend.inventory import service as inventory
from backend.inventory.models import Lot
from backend.staff.models import Staff
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow
from backend.trace.models import TraceCode
from jobs.delayed import DelayedJobs

STAFF_PASSWORD = "tide-pool-2468"  # of the staff accounts tests create

ADDRESS = {
    "name": "王海",
    "phone": "13800138000",
    "province": "山东省",
    "city": "威海市",
    "district": "乳山市",
    "detail": "海阳所镇 88 号",
}


# CI runs the suite on SQLite and on PostgreSQL side by side, within 30 minutes. Tests whose
# subject is not the database (a browser driving pages whose queries have tests of their own, a
# 30-second WeChat outage) run once, in the SQLite run.
SQLITE_RUN_ONLY = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="not about the database: runs once, in the suite's SQLite run",
)

STAFF_SCREEN = {"width": 1366, "height": 900}


def shoot(page, name: str, *, full_page: bool = False) -> None:
    """Render the page as a user sees it; kept in $HELI_SCREENSHOTS when that is set, to look at."""
    folder = os.environ.get("HELI_SCREENSHOTS")
    if not folder:
        page.screenshot(full_page=full_page)
        return
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, name), full_page=full_page)


DEMO_STOCK = {
    "RS-LIVE-XL-5": 200,
    "RS-LIVE-L-5": 400,
    "RS-LIVE-M-5": 600,
    "RS-LIVE-S-5": 600,
    "RS-FROZEN-HALF-1KG": 500,
    "RS-RTE-DRUNK-500G": 300,
    "RS-GIFT-XL-8": 120,
    "RS-GIFT-L-8": 150,
}


def seed_store(app) -> dict[str, int]:
    """The demo alliance with one packed batch of DEMO_STOCK: {sku code: sku id}."""
    with app.app_context():
        demo.seed(db.session)
        codes = {sku.code: sku.id for sku in db.session.scalars(db.select(Sku))}
        db.session.remove()
    stock_up(app, DEMO_STOCK)
    return codes


def stock_up(
    app, packs: dict[str, int], *, packed_at: datetime | None = None, sea_area: str = "RS-HYS-01"
) -> list[int]:
    """One batch run through the line's services and packed; answers the new lots' ids."""
    with app.app_context():
        lot_ids = demo.pack_batch(db.session, packs, packed_at=packed_at, sea_area=sea_area)
        db.session.remove()
    return lot_ids


def login_code(sandbox, openid: str) -> str:
    res = requests.post(f"{sandbox.url}/sandbox/wx/login-code", json={"openid": openid}, timeout=5)
    res.raise_for_status()
    return res.json()["code"]


def png(width: int = 320, height: int = 240, color: str = "#6b8e9f") -> bytes:
    """A real PNG picture, as a phone would upload."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll until predicate() is truthy (answers it) or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@dataclass
class Shopper:
    client: object
    sandbox: object
    token: str
    openid: str

    @classmethod
    def login(cls, client, sandbox, openid: str) -> Shopper:
        res = client.post("/api/v1/auth/login", json={"code": login_code(sandbox, openid)})
        assert res.status_code == 200, res.json
        return cls(client, sandbox, res.json["token"], openid)

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, json=None, headers=None, **kwargs):
        return self.client.post(
            path, json=json, headers={**self.headers, **(headers or {})}, **kwargs
        )

    def put(self, path: str, json=None, **kwargs):
        return self.client.put(path, json=json, headers=self.headers, **kwargs)

    def order(self, items: list[tuple[int, int]], key: str | None = None, **extra):
        body = {
            "items": [{"sku_id": s, "quantity": q} for s, q in items],
            "address": ADDRESS,
            **extra,
        }
        return self.post(
            "/api/v1/orders", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex}
        )

    def pay(self, order_id: int) -> dict:
        res = self.post(f"/api/v1/orders/{order_id}/pay")
        assert res.status_code == 200, res.json
        return res.json

    def confirm_payment(self, params: dict, **options) -> dict:
        """The phone pays: the sandbox checks paySign and notifies our callback."""
        prepay_id = params["package"].removeprefix("prepay_id=")
        res = requests.post(
            f"{self.sandbox.url}/sandbox/pay/{prepay_id}/confirm",
            json={"payment": params, "wait": True, **options},
            timeout=30,
        )
        assert res.status_code == 200, res.text
        return res.json()

    def upload_photo(self, picture: bytes | None = None, name: str = "dead.png"):
        """Upload a photo (a small generated PNG unless `picture` is given); the response."""
        return self.client.post(
            "/api/v1/photos",
            data={"file": (io.BytesIO(picture or png()), name)},
            headers={"Authorization": f"Bearer {self.token}"},
            content_type="multipart/form-data",
        )

    def photo_keys(self, count: int = 2) -> list[str]:
        return [self.upload_photo().json["key"] for _ in range(count)]

    def buy(self, items: list[tuple[int, int]]) -> dict:
        """Order, pay and wait until the order is PAID; answers the order."""
        order = self.order(items).json
        self.confirm_payment(self.pay(order["id"]))
        return wait_for(lambda: self._paid(order["id"]))

    def _paid(self, order_id: int):
        order = self.get(f"/api/v1/orders/{order_id}").json
        return order if order["status"] == "PAID" else None


def sku_stock(app, sku_id: int) -> tuple[int, int]:
    """(on_hand, reserved) of a SKU summed over its lots."""
    with app.app_context():
        on_hand, reserved = db.session.execute(
            db.select(
                db.func.coalesce(db.func.sum(Lot.on_hand), 0),
                db.func.coalesce(db.func.sum(Lot.reserved), 0),
            ).where(Lot.sku_id == sku_id)
        ).one()
        db.session.remove()
    return int(on_hand), int(reserved)


def limit_stock(app, sku_id: int, available: int) -> None:
    """A staff stock-take leaves exactly `available` free units of a SKU (in its first lot)."""
    with app.app_context():
        admin = db.session.scalar(db.select(Staff.id).where(Staff.username == "admin"))
        lots = list(
            db.session.scalars(
                db.select(Lot).where(Lot.sku_id == sku_id).order_by(Lot.use_by, Lot.id)
            )
        )
        for index, lot in enumerate(lots):
            wanted = available if index == 0 else 0
            delta = wanted - (lot.on_hand - lot.reserved)
            if delta:
                inventory.adjust(
                    db.session, lot_id=lot.id, delta=delta, reason="测试盘点", staff_id=admin
                )
        db.session.remove()


def at(minutes: int) -> str:
    """A time `minutes` from now, as the console takes it (ISO 8601, China time)."""
    return to_aware_utc(utcnow() + timedelta(minutes=minutes)).astimezone(SHANGHAI).isoformat()


def room_body(**overrides) -> dict:
    return {
        "name": "乳山牡蛎开海直播",
        "anchor_name": "小于",
        "anchor_wechat": "heli_anchor",
        "starts_at": at(20),
        "ends_at": at(140),
        **overrides,
    }


def set_live_status(sandbox, staff_client, external_id: str, status: int) -> None:
    """The room's status changes at the live provider; the minute sync mirrors it."""
    res = requests.post(
        f"{sandbox.url}/sandbox/live/rooms/{external_id}/status",
        json={"live_status": status},
        timeout=5,
    )
    assert res.status_code == 200, res.text
    assert staff_client.post("/console/api/live/rooms/sync", json={}).json["changed"] == 1


def go_live(sandbox, staff_client, room_id) -> str:
    """The host starts the (only) room in the live stand-in; answers its provider room id."""
    rooms = requests.get(f"{sandbox.url}/sandbox/live/rooms", timeout=5).json()["rooms"]
    external = str(rooms[0]["roomId"])
    set_live_status(sandbox, staff_client, external, 101)
    return external


def print_run(staff_client, licensed, quantity=50, **overrides):
    body = {
        "seller_id": licensed["seller_id"],
        "lot_id": licensed["lot_id"],
        "quantity": quantity,
        **overrides,
    }
    return staff_client.post("/console/api/print-runs", json=body)


def run_codes(app, run_id) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                db.select(TraceCode.code)
                .where(TraceCode.print_run_id == run_id)
                .order_by(TraceCode.serial)
            )
        )


def follow(sandbox, openid: str, unionid: str | None = None) -> dict:
    body = {"openid": openid, "follow": True, **({"unionid": unionid} if unionid else {})}
    res = requests.post(f"{sandbox.url}/sandbox/oa/users", json=body, timeout=30)
    assert res.status_code == 200, res.text
    return res.json()


def run_jobs(app, *queues: str) -> None:
    """Run the jobs waiting in the queues (and scheduled ones now due, moved as the scheduler
    process does), as the rq workers would; by default the queues of the `worker` process, in
    its order."""
    with app.app_context():
        redis = app.extensions["heli_redis"]
        names = queues or ("notices", "default", "broadcasts")
        delayed = DelayedJobs(redis, names)
        delayed.tick()
        delayed.release_locks()
        worker = SimpleWorker([Queue(name, connection=redis) for name in names], connection=redis)
        worker.work(burst=True)


def run_benchmark(module: str, *args: str, timeout: float = 600) -> dict[str, str]:
    """Run `python -m bench.<module> --smoke` as a newcomer would (on its own scratch database: a
    PostgreSQL cluster of its own when this suite runs on PostgreSQL); fails on a non-zero exit;
    answers the `name: value` figures it printed."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgresql")
    command = [sys.executable, "-m", f"bench.{module}", "--smoke", *args]
    if postgres:
        command.append("--postgres")
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    figures = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name and " " not in name:
            figures[name] = value.strip()
    return figures


def audit_rows(app) -> list:
    """The audit records written so far, in order, detached — but the staff accounts' own
    (tests create staff, and that is audited too)."""
    from backend.audit.models import AuditRecord

    with app.app_context():
        rows = list(
            db.session.scalars(
                db.select(AuditRecord)
                .where(AuditRecord.target_type != "staff")
                .order_by(AuditRecord.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows
