"""The processing line's signed API: batches become lots; bad reports change nothing."""

import json
import time
import uuid
from datetime import timedelta

import pytest

from backend import demo
from backend.batches.models import Batch, BatchStep, Plant
from backend.extensions import db
from backend.inventory.models import Lot
from backend.processing import signing
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow


def iso(hours_ago: float) -> str:
    moment = to_aware_utc(utcnow() - timedelta(hours=hours_ago)).astimezone(SHANGHAI)
    return moment.isoformat(timespec="seconds")


class Line:
    """The processing plant's system: signs every call with its key."""

    def __init__(self, client, key_id: str, secret: str):
        self.client, self.key_id, self.secret = client, key_id, secret

    def request(
        self,
        method: str,
        path: str,
        body=None,
        *,
        timestamp=None,
        nonce=None,
        secret=None,
        key_id=None,
    ):
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        timestamp = str(timestamp or int(time.time()))
        nonce = nonce or uuid.uuid4().hex
        signature = signing.sign(secret or self.secret, method, path, timestamp, nonce, raw)
        headers = {
            "X-Heli-Key-Id": key_id or self.key_id,
            "X-Heli-Timestamp": timestamp,
            "X-Heli-Nonce": nonce,
            "X-Heli-Signature": signature,
        }
        return self.client.open(
            path, method=method, data=raw, headers=headers, content_type="application/json"
        )

    def post(self, path: str, body: dict, **kwargs):
        return self.request("POST", f"/api/processing{path}", body, **kwargs)

    def open_batch(self, code: str, weight_g: int = 1_000_000):
        return self.post(
            "/batches",
            {
                "report_id": f"{code}:open",
                "batch_code": code,
                "product_line": "oyster",
                "harvest": {"sea_area": "RS-HYS-02", "harvested_at": iso(30), "weight_g": weight_g},
            },
        )

    def wash(self, code: str, **measurements):
        return self.post(
            f"/batches/{code}/steps",
            {
                "report_id": f"{code}:wash",
                "step": "wash",
                "performed_at": iso(29),
                "measurements": measurements or {"water_temp_c": 12.5, "duration_min": 30},
            },
        )

    def sort(self, code: str, grades=None):
        grades = (
            grades
            if grades is not None
            else [
                {"grade": "XL", "count": 1500, "weight_g": 300_000},
                {"grade": "L", "count": 4000, "weight_g": 400_000},
                {"grade": "M", "count": 4000, "weight_g": 280_000},
            ]
        )
        return self.post(
            f"/batches/{code}/sorting",
            {"report_id": f"{code}:sort", "performed_at": iso(28), "grades": grades},
        )

    def depurate(self, code: str, **measurements):
        return self.post(
            f"/batches/{code}/steps",
            {
                "report_id": f"{code}:depurate",
                "step": "depurate",
                "performed_at": iso(4),
                "measurements": measurements
                or {"hours": 24, "water_temp_c": 15, "salinity_permille": 31},
            },
        )

    def inspect(self, code: str, passed: bool = True):
        return self.post(
            f"/batches/{code}/inspection",
            {
                "report_id": f"{code}:inspect",
                "performed_at": iso(2),
                "passed": passed,
                "report_no": f"QC-{code}",
                "lab": "乳山市水产品检测中心",
            },
        )

    def pack(self, code: str, packs=None, report="pack", packed_at=None):
        packs = (
            packs
            if packs is not None
            else [{"sku": "RS-LIVE-XL-5", "count": 100}, {"sku": "RS-LIVE-L-5", "count": 120}]
        )
        return self.post(
            f"/batches/{code}/packing",
            {"report_id": f"{code}:{report}", "packed_at": packed_at or iso(1), "packs": packs},
        )

    def through_inspection(self, code: str, passed: bool = True):
        for step in (
            self.open_batch(code),
            self.wash(code),
            self.sort(code),
            self.depurate(code),
            self.inspect(code, passed),
        ):
            assert step.status_code in (200, 201), step.json


@pytest.fixture
def line(app, client):
    with app.app_context():
        demo.seed(db.session)
        plant = db.session.scalar(db.select(Plant))
        key_id, secret = plant.key_id, plant.secret
        db.session.remove()
    return Line(client, key_id, secret)


def _lots(app):
    with app.app_context():
        return {(lot.code, lot.on_hand) for lot in db.session.scalars(db.select(Lot))}


def test_a_reported_batch_becomes_sellable_stock_by_grade(app, client, line):
    line.through_inspection("B1")
    res = line.pack("B1")
    assert res.status_code == 201
    assert [lot["quantity"] for lot in res.json["lots"]] == [100, 120]
    products = client.get("/api/v1/products").json["items"]
    live = next(p for p in products if p["name"] == "乳山鲜活牡蛎")
    xl = next(s for s in live["skus"] if s["grade"] == "特大")
    assert xl["stock"] == 100
    assert xl["lot"]["sea_area"] == "王家滩外海 2 号海区"
    packed = to_aware_utc(utcnow() - timedelta(hours=1))
    use_by = (packed + timedelta(hours=72)).astimezone(SHANGHAI)
    assert xl["lot"]["use_by"][:13] == use_by.isoformat()[:13]
    detail = line.request("GET", "/api/processing/batches/B1")
    assert detail.status_code == 200 and detail.json["status"] == "PACKED"
    assert [s["step"] for s in detail.json["steps"]] == [
        "wash",
        "sort",
        "depurate",
        "inspect",
        "pack",
    ]


def test_a_repeated_report_is_answered_the_same_and_applied_once(app, line):
    line.through_inspection("B2")
    packed_at = iso(1)  # a repeat is the same body: two iso(1) calls can fall a second apart
    first = line.pack("B2", packed_at=packed_at)
    again = line.pack("B2", packed_at=packed_at)
    assert again.status_code == first.status_code == 201 and again.json == first.json
    assert len(_lots(app)) == 2
    other = line.pack("B2", packs=[{"sku": "RS-LIVE-M-5", "count": 1}])
    assert other.status_code == 409 and other.json["code"] == "REPORT_ID_REUSED"


def test_partial_packing_is_bounded_by_the_sorted_weight(app, line):
    line.through_inspection("B3")  # XL sorted 300 kg = 120 packs of 2.5 kg
    assert line.pack("B3", [{"sku": "RS-LIVE-XL-5", "count": 100}]).status_code == 201
    too_many = line.pack("B3", [{"sku": "RS-LIVE-XL-5", "count": 21}], report="pack-2")
    assert too_many.status_code == 422 and too_many.json["code"] == "PACKS_EXCEED_SORTED"
    assert "特大" in too_many.json["message"]
    assert (
        line.pack("B3", [{"sku": "RS-LIVE-XL-5", "count": 20}], report="pack-3").status_code == 201
    )
    assert len(_lots(app)) == 2


def test_failed_inspection_cannot_pack(app, line):
    line.through_inspection("B4", passed=False)
    res = line.pack("B4")
    assert res.status_code == 422 and res.json["code"] == "INSPECTION_FAILED"
    assert _lots(app) == set()


def test_steps_must_follow_the_catalogue_order(app, line):
    line.open_batch("B5")
    skipped = line.sort("B5")
    assert skipped.status_code == 422 and skipped.json["code"] == "STEP_MISSING"
    assert "清洗" in skipped.json["message"]
    assert line.wash("B5").status_code == 200
    assert line.sort("B5").status_code == 200
    late_wash = line.post(
        "/batches/B5/steps",
        {
            "report_id": "B5:wash-again",
            "step": "wash",
            "performed_at": iso(3),
            "measurements": {"water_temp_c": 12, "duration_min": 20},
        },
    )
    assert late_wash.status_code == 422 and late_wash.json["code"] == "STEP_OUT_OF_ORDER"
    no_depuration = line.pack("B5")
    assert no_depuration.status_code == 422 and no_depuration.json["code"] == "STEP_MISSING"


@pytest.mark.parametrize(
    "measurements, code",
    [
        ({"water_temp_c": 15, "salinity_permille": 31}, "MEASUREMENT_MISSING"),
        ({"hours": "24", "water_temp_c": 15, "salinity_permille": 31}, "MEASUREMENT_INVALID"),
        ({"hours": 2, "water_temp_c": 15, "salinity_permille": 31}, "MEASUREMENT_OUT_OF_RANGE"),
    ],
)
def test_bad_measurements(app, line, measurements, code):
    line.open_batch("B6")
    line.wash("B6")
    line.sort("B6")
    res = line.depurate("B6", **measurements)
    assert res.status_code == 400 and res.json["code"] == code
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(BatchStep)) == 2


def test_sorting_cannot_exceed_the_harvest(app, line):
    line.open_batch("B7", weight_g=500_000)
    line.wash("B7")
    res = line.sort("B7")  # 980 kg sorted from 500 kg
    assert res.status_code == 422 and res.json["code"] == "SORTED_WEIGHT_EXCEEDS_HARVEST"
    within_tolerance = line.post(
        "/batches/B7/sorting",
        {
            "report_id": "B7:sort-2",
            "performed_at": iso(28),
            "grades": [{"grade": "L", "count": 2000, "weight_g": 505_000}],
        },
    )
    assert within_tolerance.status_code == 200


@pytest.mark.parametrize(
    "grades",
    [
        [{"grade": "XL", "count": -1, "weight_g": 100}],
        [{"grade": "XL", "count": 10, "weight_g": "heavy"}],
        [{"grade": "XL", "count": 1.5, "weight_g": 100}],
        [],
    ],
)
def test_bad_sorting_numbers(line, grades):
    line.open_batch("B8")
    line.wash("B8")
    res = line.sort("B8", grades)
    assert res.status_code == 400 and res.json["code"] == "VALIDATION_ERROR"


def test_unknown_batch_grade_and_sku(line):
    assert line.wash("NOPE").json["code"] == "BATCH_NOT_FOUND"
    line.open_batch("B9")
    line.wash("B9")
    res = line.sort("B9", [{"grade": "XXL", "count": 1, "weight_g": 100}])
    assert res.status_code == 404 and res.json["code"] == "GRADE_NOT_FOUND"
    line.sort("B9")
    line.depurate("B9")
    line.inspect("B9")
    res = line.pack("B9", [{"sku": "PEAR-1", "count": 1}])
    assert res.status_code == 404 and res.json["code"] == "SKU_NOT_FOUND"
    unknown_area = line.post(
        "/batches",
        {
            "report_id": "B10:open",
            "batch_code": "B10",
            "product_line": "oyster",
            "harvest": {"sea_area": "NOWHERE", "harvested_at": iso(3), "weight_g": 10},
        },
    )
    assert unknown_area.status_code == 404


def test_one_report_is_one_transaction(app, line):
    line.through_inspection("B11")
    res = line.pack(
        "B11", [{"sku": "RS-LIVE-XL-5", "count": 10}, {"sku": "RS-LIVE-L-5", "count": 100000}]
    )
    assert res.status_code == 422
    assert _lots(app) == set()


def test_signatures_are_checked(app, line):
    body = {
        "report_id": "S:open",
        "batch_code": "S1",
        "product_line": "oyster",
        "harvest": {"sea_area": "RS-HYS-01", "harvested_at": iso(2), "weight_g": 10},
    }
    assert line.post("/batches", body, secret="wrong").json["code"] == "SIGNATURE_INVALID"
    skewed = line.post("/batches", body, timestamp=int(time.time()) - 301)
    assert skewed.status_code == 401 and skewed.json["code"] == "TIMESTAMP_SKEWED"
    assert "5 分钟" in skewed.json["message"]
    odd = line.post("/batches", body, timestamp="²")  # a digit to str.isdigit(), not to int()
    assert odd.status_code == 401 and odd.json["code"] == "TIMESTAMP_SKEWED"
    unsigned = line.client.post("/api/processing/batches", json=body)
    assert unsigned.status_code == 401 and unsigned.json["code"] == "SIGNATURE_MISSING"
    first = line.post("/batches", body, nonce="n" * 20)
    replayed = line.post("/batches", body, nonce="n" * 20)
    assert first.status_code == 201
    assert replayed.status_code == 401 and replayed.json["code"] == "NONCE_REPLAYED"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Batch)) == 1


def test_an_unknown_key_id_is_answered_as_a_wrong_signature(line):
    """The API must not tell which key ids exist."""
    body = {"report_id": "K:open", "batch_code": "K1", "product_line": "oyster", "harvest": {}}
    wrong_secret = line.post("/batches", body, secret="wrong")
    unknown_key = line.post("/batches", body, key_id="plant-nobody-01", secret="wrong")
    assert (unknown_key.status_code, unknown_key.json) == (
        wrong_secret.status_code,
        wrong_secret.json,
    )


def test_a_plant_without_a_secret_refuses_to_run(app, line, caplog):
    """An empty secret would make a signature anyone can compute."""
    with app.app_context():
        plant = Plant(name="未配置的加工厂", key_id="plant-unset-01", secret="")
        db.session.add(plant)
        db.session.commit()
        plant_id = plant.id
        db.session.remove()
    unset = Line(line.client, "plant-unset-01", "")
    body = {
        "report_id": "U:open",
        "batch_code": "U1",
        "product_line": "oyster",
        "harvest": {"sea_area": "RS-HYS-01", "harvested_at": iso(2), "weight_g": 10},
    }
    with caplog.at_level("ERROR", logger="backend.processing.signing"):
        res = unset.post("/batches", body)
    assert (res.status_code, res.json["code"]) == (503, "NOT_CONFIGURED")
    assert [r.getMessage() for r in caplog.records if r.name == "backend.processing.signing"] == [
        f"Processing API refused: plant {plant_id} has no secret configured"
    ]


def test_a_tampered_body_fails_the_signature(line):
    body = {
        "report_id": "T:open",
        "batch_code": "T1",
        "product_line": "oyster",
        "harvest": {"sea_area": "RS-HYS-01", "harvested_at": iso(2), "weight_g": 10},
    }
    raw = json.dumps(body).encode()
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
    signature = signing.sign(line.secret, "POST", "/api/processing/batches", timestamp, nonce, raw)
    tampered = raw.replace(b'"weight_g": 10', b'"weight_g": 99')
    res = line.client.post(
        "/api/processing/batches",
        data=tampered,
        content_type="application/json",
        headers={
            "X-Heli-Key-Id": line.key_id,
            "X-Heli-Timestamp": timestamp,
            "X-Heli-Nonce": nonce,
            "X-Heli-Signature": signature,
        },
    )
    assert res.status_code == 401 and res.json["code"] == "SIGNATURE_INVALID"


def test_times_in_the_future_are_refused(line):
    res = line.post(
        "/batches",
        {
            "report_id": "F:open",
            "batch_code": "F1",
            "product_line": "oyster",
            "harvest": {"sea_area": "RS-HYS-01", "harvested_at": iso(-2), "weight_g": 10},
        },
    )
    assert res.status_code == 422 and res.json["code"] == "TIME_IN_FUTURE"
