"""The published OpenAPI document is honest: schemathesis (`st run --checks all`) drives the
consumer API and the seller API through the app served over HTTP, with a consumer's and a
seller's token and some data of theirs, and finds no 5xx and no answer the document does not
describe. Bounded: a fixed seed and a few examples per operation (about 20 s each here)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from backend.extensions import db
from backend.sellers import service as sellers
from jobs import platforms as platform_jobs

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 50


def schemathesis(
    app, path_regex: str, token: str, workdir: Path, exclude: str | None = None
) -> subprocess.CompletedProcess:
    base = app.config["PUBLIC_BASE_URL"]
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG)),
        *("run", f"{base}/api/openapi.json", "--checks", "all"),
        *("--include-path-regex", path_regex),
        *(("--exclude-path-regex", exclude) if exclude else ()),
        *("--header", f"Authorization: Bearer {token}"),
        *("--max-examples", str(EXAMPLES), "--seed", "14", "--workers", "1"),
        "--no-color",
    ]
    # in a scratch folder: schemathesis keeps a cache where it runs
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=workdir)


def test_the_consumer_api_keeps_its_document(app, store, shopper, tmp_path):
    placed = shopper.order([(store["RS-LIVE-L-5"], 1)])  # an order of theirs: id 1
    assert placed.status_code == 201, placed.json
    # Logging out ends the token: that operation goes last, or every one after it would be 401.
    run = schemathesis(app, "^/api/v1/", shopper.token, tmp_path, exclude="/auth/logout$")
    assert run.returncode == 0, run.stdout[-15000:] + run.stderr[-3000:]
    run = schemathesis(app, "^/api/v1/auth/logout$", shopper.token, tmp_path)
    assert run.returncode == 0, run.stdout[-15000:] + run.stderr[-3000:]


def test_the_seller_api_keeps_its_document(app, sandbox, staff_client, store, tmp_path):
    with app.app_context():
        seller_id = sellers.create_seller(db.session, name="契约测试卖家").id
        db.session.commit()
        db.session.remove()
    token = staff_client.post(f"/console/api/sellers/{seller_id}/api-tokens", json={}).json["token"]
    platform = f"{sandbox.url}/sandbox/platforms/douyin"
    grant = requests.post(f"{platform}/shops", json={"shop_id": "dy-contract"}, timeout=30).json()
    items = [{"outer_id": "RS-LIVE-L-5", "quantity": 1, "unit_price_fen": 9800}]
    order = {"shop_id": "dy-contract", "items": items, "update_time": int(time.time() - 300)}
    assert requests.post(f"{platform}/orders", json=order, timeout=30).status_code in (200, 201)
    client = app.test_client()
    shop = client.post(
        "/api/seller/v1/shops",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "platform": "douyin",
            "shop_key": "dy-contract",
            "access_token": grant["access_token"],
            "refresh_token": grant["refresh_token"],
            "expires_in": 86400,
        },
    )
    assert shop.status_code == 201, shop.json
    with app.app_context():
        platform_jobs.pull_shop(shop.json["id"])  # a platform order and a notice: ids 1
        db.session.remove()
    run = schemathesis(app, "^/api/seller/v1/", token, tmp_path)
    assert run.returncode == 0, run.stdout[-15000:] + run.stderr[-3000:]
