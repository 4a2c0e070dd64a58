"""Anti-counterfeit codes: print runs for licensed sellers, scans with the chain, copies caught."""

import csv
import io
import secrets
import zipfile
from datetime import timedelta

import requests

from backend.extensions import db
from backend.inventory.models import Lot
from backend.sellers import service as sellers
from backend.sellers.models import Seller
from backend.timeutil import utcnow
from backend.trace import codes as trace_codes
from backend.trace import queries as trace_queries
from backend.trace.models import TraceCode, TraceFlag, TraceScan
from tests.helpers import print_run, run_codes

WEIHAI = {"lat": 37.51, "lon": 122.12, "region": "山东省威海市"}
GUANGZHOU = {"lat": 23.13, "lon": 113.26, "region": "广东省广州市"}


def net(n: int) -> dict:
    """The request comes from the n-th of several networks (a different client each)."""
    return {"REMOTE_ADDR": f"198.51.100.{n}"}


def _persist(app) -> int:
    """Run the job that moves the scan log into the database."""
    with app.app_context():
        from jobs.trace import persist_scans

        return persist_scans()


def test_a_licensed_seller_gets_unguessable_codes_for_a_lot(app, staff_client, licensed):
    res = print_run(staff_client, licensed, quantity=200)
    assert res.status_code == 201
    issued = run_codes(app, res.json["id"])
    assert len(issued) == len(set(issued)) == 200
    assert all(len(c) == 26 and trace_codes.CODE_PATTERN.match(c) for c in issued)
    exported = staff_client.get(f"/console/api/print-runs/{res.json['id']}/codes.csv")
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0] == ["serial", "code", "url"] and len(rows) == 201
    assert rows[1][1] == issued[0] and rows[1][2].endswith("/t/" + issued[0])


def test_labels_qr_and_mini_programrun_codes(app, staff_client, licensed, sandbox):
    run = print_run(staff_client, licensed, quantity=3).json
    labels = staff_client.get(f"/console/api/print-runs/{run['id']}/labels.zip")
    with zipfile.ZipFile(io.BytesIO(labels.data)) as archive:
        names = archive.namelist()
        assert len(names) == 3 and archive.read(names[0])[:8] == b"\x89PNG\r\n\x1a\n"
    code = run_codes(app, run["id"])[0]
    svg = staff_client.get(f"/console/api/codes/{code}/qr.svg")
    assert svg.status_code == 200 and b"<svg" in svg.data
    wxacode = staff_client.get(f"/console/api/codes/{code}/wxacode.png")
    assert wxacode.status_code == 200 and wxacode.data[:4] == b"\x89PNG"
    made = requests.get(f"{sandbox.url}/sandbox/wx/wxacodes", timeout=5).json()["wxacodes"]
    assert made[-1]["scene"] == code
    assert staff_client.get("/console/api/codes/NOTACODE/qr.svg").status_code == 404


def test_print_runs_are_refused_without_a_valid_licence_or_lot(app, staff_client, licensed, store):
    with app.app_context():
        stranger = sellers.create_seller(db.session, name="无授权卖家")
        db.session.commit()
        stranger_id = stranger.id
    unlicensed = print_run(staff_client, licensed, seller_id=stranger_id)
    assert unlicensed.status_code == 422 and unlicensed.json["code"] == "NO_VALID_LICENCE"
    too_many = print_run(staff_client, licensed, quantity=201)  # the lot has 200 packs
    assert too_many.status_code == 422 and too_many.json["code"] == "PRINT_RUN_EXCEEDS_LOT"
    assert print_run(staff_client, licensed, quantity=150).status_code == 201
    cumulative = print_run(staff_client, licensed, quantity=51)
    assert cumulative.json["code"] == "PRINT_RUN_EXCEEDS_LOT"
    assert print_run(staff_client, licensed, quantity=0).status_code == 400
    with app.app_context():
        db.session.execute(
            db.update(Lot)
            .where(Lot.id == licensed["lot_id"])
            .values(use_by=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
    expired_lot = print_run(staff_client, licensed, quantity=1)
    assert expired_lot.status_code == 422 and expired_lot.json["code"] == "LOT_EXPIRED"


def test_suspended_and_out_of_scope_licences_get_norun_codes(app, staff_client, store):
    with app.app_context():
        seller = sellers.create_seller(db.session, name="限定范围卖家")
        db.session.commit()
        licence = sellers.grant_licence(
            db.session,
            seller_id=seller.id,
            product_ids=[4],  # gift boxes only
            valid_from=sellers.today(),
            valid_until=sellers.today() + timedelta(days=30),
            staff_id=None,
        )
        seller_id, licence_id = seller.id, licence.id
        lot_id = db.session.scalar(db.select(Lot.id).where(Lot.sku_id == store["RS-LIVE-XL-5"]))
        gift_lot = db.session.scalar(db.select(Lot.id).where(Lot.sku_id == store["RS-GIFT-XL-8"]))
    body = {"seller_id": seller_id, "lot_id": lot_id, "quantity": 1}
    out_of_scope = staff_client.post("/console/api/print-runs", json=body)
    assert out_of_scope.json["code"] == "PRODUCT_NOT_LICENSED"
    staff_client.post(f"/console/api/licences/{licence_id}/suspend", json={"note": "违规"})
    suspended = staff_client.post("/console/api/print-runs", json={**body, "lot_id": gift_lot})
    assert suspended.json["code"] == "NO_VALID_LICENCE"
    staff_client.post(f"/console/api/licences/{licence_id}/resume", json={})
    resumed = staff_client.post("/console/api/print-runs", json={**body, "lot_id": gift_lot})
    assert resumed.status_code == 201


def test_a_scan_shows_the_exact_lots_whole_chain(app, client, staff_client, licensed):
    run = print_run(staff_client, licensed, quantity=2).json
    code = run_codes(app, run["id"])[1]
    res = client.get(f"/api/v1/trace/{code}", query_string=WEIHAI)
    assert res.status_code == 200
    body = res.json
    assert body["verdict"] == "GENUINE" and body["message"] == "乳山牡蛎正品，可放心食用"
    assert body["product"] == {
        "name": "乳山鲜活牡蛎",
        "grade": "特大",
        "spec": "5斤装 约15-18只",
        "form": "鲜活",
    }
    assert body["origin"]["sea_area"] == "海阳所东湾 1 号海区"
    assert body["origin"]["farm"] == "于家养殖户" and body["origin"]["harvested_at"]
    steps = {s["name"]: s for s in body["processing"]["steps"]}
    assert set(steps) == {"清洗", "机器分级", "净化"}
    assert {"name": "净化时长", "value": 24, "unit": "小时"} in steps["净化"]["measurements"]
    assert body["inspection"]["passed"] is True and body["inspection"]["lab"]
    with app.app_context():
        lot = db.session.get(Lot, licensed["lot_id"])
        assert body["lot"]["code"] == lot.code
    assert body["lot"]["use_by"].endswith("+08:00") and body["lot"]["packed_at"]
    assert body["seller"]["name"] == "海阳所老于家牡蛎"
    assert body["seller"]["licence"].startswith("RSMH-")
    assert body["scans"]["count"] == 1 and body["scans"]["first_region"] == "山东省威海市"


def test_every_scan_is_stored_and_many_scans_are_called_out(app, client, staff_client, licensed):
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    for n in range(5):
        scanned = client.get(f"/api/v1/trace/{code}", query_string=WEIHAI, environ_base=net(n))
        assert scanned.json["verdict"] == "GENUINE"
    sixth = client.get(f"/api/v1/trace/{code}", environ_base=net(5)).json
    assert sixth["verdict"] == "SUSPICIOUS"
    assert sixth["message"].startswith("此码已在 6 个不同网络被查询，首次查询于 ")
    assert "（山东省威海市）" in sixth["message"] and sixth["message"].endswith("谨防假冒")
    assert _persist(app) == 6
    assert _persist(app) == 0
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(TraceScan)) == 6
        stored = db.session.scalar(db.select(TraceCode).where(TraceCode.code == code))
        assert (stored.scan_count, stored.first_region, stored.flagged) == (6, "山东省威海市", True)


def test_a_copied_code_scanned_in_two_cities_is_flagged(app, client, staff_client, licensed):
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    assert client.get(f"/api/v1/trace/{code}", query_string=WEIHAI).json["verdict"] == "GENUINE"
    copy = client.get(f"/api/v1/trace/{code}", query_string=GUANGZHOU, environ_base=net(2)).json
    assert copy["verdict"] == "SUSPICIOUS"
    assert copy["warnings"][0]["code"] == "IMPOSSIBLE_TRAVEL" and "复制" in copy["message"]
    _persist(app)
    flags = staff_client.get("/console/api/trace-flags").json
    assert flags["total"] == 1
    flag = flags["items"][0]
    assert flag["reason"] == "IMPOSSIBLE_TRAVEL" and flag["region"] == "广东省广州市"
    assert flag["seller"] == "海阳所老于家牡蛎" and "公里" in flag["message"]
    assert flags["by_region"] == [{"region": "广东省广州市", "flags": 1}]
    assert flags["by_seller"][0]["flags"] == 1


def test_scans_long_after_use_by_are_flagged(app, client, staff_client, licensed):
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    with app.app_context():
        db.session.execute(
            db.update(Lot)
            .where(Lot.id == licensed["lot_id"])
            .values(use_by=utcnow() - timedelta(days=4))
        )
        db.session.commit()
    res = client.get(f"/api/v1/trace/{code}").json
    assert res["verdict"] == "SUSPICIOUS" and res["warnings"][0]["code"] == "AFTER_USE_BY"


def test_made_up_and_malformedrun_codes(app, client):
    fake = trace_codes.new_code()
    res = client.get(f"/api/v1/trace/{fake}")
    assert res.status_code == 404 and res.json["code"] == "TRACE_CODE_NOT_FOUND"
    assert "谨慎购买" in res.json["message"]
    for bad in (
        "ABC",
        "A" * 40,
        "abcdefghijklmnopqrstuvwxy1",
        "1' OR '1'='1",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "A" * 25 + "0",
        "😀" * 26,
    ):
        res = client.get(f"/api/v1/trace/{bad}")
        assert res.status_code == 404, bad
        assert res.json["code"] == "TRACE_CODE_NOT_FOUND"
    _persist(app)
    with app.app_context():
        flagged = list(db.session.scalars(db.select(TraceFlag)))
        assert [(f.reason, f.raw_code) for f in flagged] == [("NOT_OURS", fake)]
        assert db.session.scalar(db.select(db.func.count()).select_from(TraceScan)) == 8


def test_bad_location_input(client):
    res = client.get("/api/v1/trace/" + trace_codes.new_code(), query_string={"lat": 95})
    assert res.status_code == 400
    half = client.get("/api/v1/trace/" + trace_codes.new_code(), query_string={"lat": 30})
    assert half.status_code == 422 and half.json["code"] == "INCOMPLETE_LOCATION"


def test_scans_faster_than_the_limits_get_429(app, client):
    app.config.update(TRACE_RATE_PER_CODE="3/minute", TRACE_RATE_PER_IP="5/minute")
    try:
        code = trace_codes.new_code()
        answers = [client.get(f"/api/v1/trace/{code}").status_code for _ in range(4)]
        assert answers == [404, 404, 404, 429]
        # The IP may scan 5 times a minute in all: 3 above were allowed, so 2 more at most.
        other = [
            client.get(f"/api/v1/trace/{trace_codes.new_code()}").status_code for _ in range(3)
        ]
        assert other.count(404) <= 2 and other[-1] == 429
        limited = client.get(f"/api/v1/trace/{trace_codes.new_code()}")
        assert limited.json["code"] == "TOO_MANY_REQUESTS" and "频繁" in limited.json["message"]
    finally:
        app.config.update(TRACE_RATE_PER_CODE="20/minute", TRACE_RATE_PER_IP="60/minute")


def test_a_million_random_guesses_hit_nothing(app, staff_client, licensed):
    print_run(staff_client, licensed, quantity=200)
    with app.app_context():
        from backend.inventory.models import Lot as LotModel
        from backend.trace import service as trace

        lot = db.session.scalar(
            db.select(LotModel).where(
                LotModel.sku_id != db.session.get(LotModel, licensed["lot_id"]).sku_id,
                LotModel.received >= 500,
            )
        )
        trace.create_print_run(
            db.session,
            seller_id=licensed["seller_id"],
            lot_id=lot.id,
            quantity=lot.received,
            staff_id=None,
        )
        issued = db.session.scalar(db.select(db.func.count()).select_from(TraceCode))
        hits = 0
        for _ in range(100):
            guesses = [trace_codes.new_code() for _ in range(10_000)]
            hits += len(trace_queries.existing_codes(db.session, guesses))
    assert issued >= 700 and hits == 0
    # And the same through the endpoint, for a sample of guesses built byte by byte.
    for _ in range(50):
        guess = trace_codes.normalize(
            secrets.token_hex(13)[:26]
            .upper()
            .replace("0", "A")
            .replace("1", "B")
            .replace("8", "C")
            .replace("9", "D")
        )
        assert app.test_client().get(f"/api/v1/trace/{guess}").status_code == 404


def test_the_printed_qr_opens_a_chinese_trace_page(app, client, staff_client, licensed):
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    page = client.get(f"/t/{code}")
    text = page.data.decode()
    assert page.status_code == 200 and "乳山牡蛎正品，可放心食用" in text
    assert (
        "海阳所东湾 1 号海区" in text and "净化时长 24小时" in text and "海阳所老于家牡蛎" in text
    )
    fake = client.get(f"/t/{trace_codes.new_code()}")
    assert fake.status_code == 404 and "谨慎购买" in fake.data.decode()
    markup = client.get("/t/<script>alert(1)</script>")
    assert markup.status_code == 404 and "<script>alert" not in markup.data.decode()


# --- abuse: one holder, spellings of a code, doors, pages ----------------------------------


def test_one_holder_cannot_flag_a_code_alone(app, client, staff_client, licensed):
    """Finding 9: whoever holds a code flipped it to suspicious by scanning it 6 times, or from
    two far-apart places they typed in. Now only different networks count."""
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    holder = net(1)
    for spelling in (code, code.lower(), f" {code} ", code[:13] + "-" + code[13:]):
        assert client.get(f"/api/v1/trace/{spelling}", environ_base=holder).status_code == 200
    for place in (WEIHAI, GUANGZHOU, WEIHAI):
        client.get(f"/api/v1/trace/{code}", query_string=place, environ_base=holder)
    # One IPv6 phone holds a whole /64: its addresses are one client, not many.
    for n in range(1, 5):
        client.get(f"/api/v1/trace/{code}", environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{n}"})
    last = client.get(f"/api/v1/trace/{code}", environ_base=holder).json
    assert (last["verdict"], last["scans"]["count"], last["scans"]["clients"]) == ("GENUINE", 12, 2)


def test_the_first_region_is_the_first_scans_own(app, client, staff_client, licensed):
    """Finding 9: a later scan chose the first-scan region everyone sees; and any text passed."""
    code = run_codes(app, print_run(staff_client, licensed, quantity=2).json["id"])[0]
    browser = client.get(f"/t/{code}", environ_base=net(1))  # a browser: no region
    assert browser.status_code == 200 and "用我的位置核验" in browser.data.decode()
    script = client.get("/t/static/trace_page.js")
    assert script.status_code == 200 and b"navigator.geolocation" in script.data
    later = client.get(f"/api/v1/trace/{code}", query_string=GUANGZHOU, environ_base=net(2))
    assert later.json["scans"]["first_region"] is None
    _persist(app)
    with app.app_context():
        stored = db.session.scalar(db.select(TraceCode).where(TraceCode.code == code))
        assert (stored.scan_count, stored.first_region) == (2, None)
    other = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    made_up = {"lat": 37.51, "lon": 122.12, "region": "假货集散地请勿购买"}
    first = client.get(f"/api/v1/trace/{other}", query_string=made_up).json
    assert first["scans"]["first_region"] is None  # not a place: not recorded


def test_every_spelling_of_a_code_shares_one_limit_across_both_doors(app, client, monkeypatch):
    """Finding 9: lower-casing the code or adding a space got a fresh per-code budget, and the
    /t/ page and the API each had their own."""
    monkeypatch.setitem(app.config, "TRACE_RATE_PER_CODE", "3/minute")
    code = trace_codes.new_code()
    spellings = (f"/api/v1/trace/{code.lower()}", f"/t/{code}%20", f"/api/v1/trace/{code}")
    for n, path in enumerate(spellings):
        assert client.get(path, environ_base=net(n)).status_code == 404, path
    assert client.get(f"/t/{code.lower()}", environ_base=net(9)).status_code == 429


def test_one_budget_per_network_for_the_page_and_the_api(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TRACE_RATE_PER_IP", "4/minute")
    answers = [
        client.get(f"{door}{trace_codes.new_code()}").status_code
        for door in ("/t/", "/api/v1/trace/", "/t/", "/api/v1/trace/", "/t/", "/api/v1/trace/")
    ]
    assert answers == [404, 404, 404, 404, 429, 429]
    v6 = [
        client.get(f"/t/{trace_codes.new_code()}", environ_base={"REMOTE_ADDR": f"2001:db8::{n}"})
        for n in range(1, 6)
    ]
    assert [page.status_code for page in v6] == [404, 404, 404, 404, 429]


def test_the_trace_page_answers_429_as_a_chinese_page(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TRACE_RATE_PER_IP", "1/minute")
    client.get(f"/t/{trace_codes.new_code()}")
    page = client.get(f"/t/{trace_codes.new_code()}")
    assert page.status_code == 429 and page.mimetype == "text/html"
    assert 1 <= int(page.headers["Retry-After"]) <= 60
    text = page.data.decode()
    assert "查询太频繁了，请稍后再试" in text and "1 分钟后刷新本页" in text
    assert "TOO_MANY_REQUESTS" not in text


def test_a_warning_offers_the_seller_and_a_report_staff_can_read(
    app, client, staff_client, licensed
):
    with app.app_context():
        db.session.execute(
            db.update(Seller).where(Seller.id == licensed["seller_id"]).values(phone="13800138000")
        )
        db.session.commit()
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    client.get(f"/t/{code}", query_string={"lat": 37.51, "lon": 122.12}, environ_base=net(1))
    page = client.get(f"/t/{code}", query_string={"lat": 23.13, "lon": 113.26}, environ_base=net(2))
    text = page.data.decode()
    assert page.status_code == 200 and "疑似被复制" in text and "下一步怎么办" in text
    assert 'href="tel:13800138000"' in text and f'action="/t/{code}/report"' in text
    assert "已结合您的位置核验" in text
    empty = client.post(f"/t/{code}/report", data={"place": " "}, environ_base=net(2))
    assert empty.status_code == 400 and "请填写购买地点" in empty.data.decode()
    sent = client.post(
        f"/t/{code}/report",
        data={"place": "广州某海鲜市场 12 号摊", "note": "比市价便宜一半"},
        environ_base=net(2),
    )
    assert sent.status_code == 200 and "已收到您的举报" in sent.data.decode()
    fake = trace_codes.new_code()
    api = client.post(f"/api/v1/trace-reports/{fake.lower()}", json={"place": "某网店"})
    assert api.status_code == 201 and api.json["message"].startswith("已收到您的举报")
    reports = staff_client.get("/console/api/trace-flags").json["reports"]
    assert [(r["code"], r["issued"], r["place"], r["seller"]) for r in reports] == [
        (fake, False, "某网店", None),
        (code, True, "广州某海鲜市场 12 号摊", "海阳所老于家牡蛎"),
    ]
    listed = staff_client.get("/console/trace-flags").data.decode()
    assert (
        "买家举报" in listed and "广州某海鲜市场 12 号摊" in listed and "比市价便宜一半" in listed
    )


def test_a_report_does_not_make_a_code_suspicious(app, client, staff_client, licensed):
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    for n in range(3):
        client.post(f"/api/v1/trace-reports/{code}", json={"place": "某地"}, environ_base=net(n))
    _persist(app)
    assert client.get(f"/api/v1/trace/{code}").json["verdict"] == "GENUINE"


def test_the_not_ours_page_offers_a_report(client):
    page = client.get(f"/t/{trace_codes.new_code()}")
    text = page.data.decode()
    assert page.status_code == 404 and "谨慎购买" in text and "向乳山牡蛎联盟举报假冒" in text
    bad = client.get(f"/t/{trace_codes.new_code()}", query_string={"lat": 30})
    assert bad.status_code == 422 and "经纬度需同时提供" in bad.data.decode()


def test_behind_the_proxy_each_caller_is_its_own_network(app, client, monkeypatch):
    """gunicorn listens on 127.0.0.1 behind a proxy: without its X-Forwarded-For every caller
    would be one network, sharing one budget (and never counting as different clients)."""
    monkeypatch.setitem(app.config, "TRACE_RATE_PER_IP", "1/minute")
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for caller in ("198.51.100.7", "203.0.113.8"):
        answered = client.get(
            f"/api/v1/trace/{trace_codes.new_code()}",
            headers={"X-Forwarded-For": caller},
            environ_base=proxy,
        )
        assert answered.status_code == 404, caller


def test_a_refused_scan_counts_nothing_and_says_when_to_come_back(
    app, client, staff_client, licensed, monkeypatch
):
    """The limits, the count and the log are one Redis call: a scan refused by either limit
    leaves no trace in the code's count nor in the scan log."""
    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    monkeypatch.setitem(app.config, "TRACE_RATE_PER_CODE", "2/minute")
    answers = [client.get(f"/api/v1/trace/{code}", environ_base=net(n)) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[-1]
    assert refused.json["code"] == "TOO_MANY_REQUESTS" and "频繁" in refused.json["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json["details"]["retry_after"] == int(refused.headers["Retry-After"])
    monkeypatch.setitem(app.config, "TRACE_RATE_PER_CODE", "20/minute")
    again = client.get(f"/api/v1/trace/{code}", environ_base=net(3)).json
    assert (again["scans"]["count"], again["scans"]["clients"]) == (3, 3)
    assert _persist(app) == 3


def test_a_chain_is_shown_as_the_processing_records_are(app, client, staff_client, licensed):
    """Chains are cached per lot; a processing record committed anywhere renders them again."""
    from backend.batches.models import Farm
    from backend.demo import pack_batch

    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    assert client.get(f"/api/v1/trace/{code}").json["origin"]["farm"] == "于家养殖户"
    with app.app_context():  # a correction of the farm's name, then the line reports a batch
        db.session.execute(db.update(Farm).values(name="于家养殖场"))
        db.session.commit()
        pack_batch(db.session, {"RS-LIVE-M-5": 1})
        db.session.commit()
    assert client.get(f"/api/v1/trace/{code}").json["origin"]["farm"] == "于家养殖场"


def test_reports_spend_their_networks_budgets_on_both_doors(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "TRACE_REPORT_RATE", "2/hour")
    fake = trace_codes.new_code()
    sent = client.post(f"/t/{fake}/report", data={"place": "某网店"}, environ_base=net(7))
    assert sent.status_code == 200
    api = client.post(
        f"/api/v1/trace-reports/{fake}", json={"place": "某网店"}, environ_base=net(7)
    )
    assert api.status_code == 201
    page = client.post(f"/t/{fake}/report", data={"place": "某网店"}, environ_base=net(7))
    assert page.status_code == 429 and "查询太频繁了" in page.data.decode()
    assert int(page.headers["Retry-After"]) > 60  # the hourly window
    refused = client.post(f"/api/v1/trace-reports/{fake}", json={"place": "x"}, environ_base=net(7))
    assert refused.status_code == 429 and refused.json["code"] == "TOO_MANY_REQUESTS"
    other = client.post(f"/api/v1/trace-reports/{fake}", json={"place": "x"}, environ_base=net(8))
    assert other.status_code == 201


def test_plain_scans_are_answered_below_flask_exactly_as_the_route_would(
    app, client, staff_client, licensed
):
    """The hot path (miniprogram_api/hot_paths.py) answers a scan with a plain query without
    Flask's request cycle; a spelling it does not take (a space in the code) goes to the route.
    Both answer the same chain and verdict."""
    from flask import request_started

    code = run_codes(app, print_run(staff_client, licensed, quantity=1).json["id"])[0]
    entered = []

    def note(sender, **_extra):
        entered.append(1)

    request_started.connect(note, app)
    try:
        fast = client.get(f"/api/v1/trace/{code}", query_string=WEIHAI, environ_base=net(1))
        assert entered == []
        spaced = f"{code[:4]}%20{code[4:]}"
        routed = client.get(f"/api/v1/trace/{spaced}", query_string=WEIHAI, environ_base=net(2))
        assert entered == [1]
    finally:
        request_started.disconnect(note, app)
    assert fast.status_code == routed.status_code == 200
    assert fast.headers["Content-Security-Policy"] == routed.headers["Content-Security-Policy"]
    first, second = fast.get_json(), routed.get_json()
    assert (first.pop("scans")["count"], second.pop("scans")["count"]) == (1, 2)
    assert first == second and first["verdict"] == "GENUINE"
    made_up = client.get(f"/api/v1/trace/{trace_codes.new_code()}", environ_base=net(3))
    assert made_up.status_code == 404 and made_up.json["code"] == "TRACE_CODE_NOT_FOUND"
    odd = client.get(f"/api/v1/trace/{code}?lat=north&lon=3", environ_base=net(4))
    assert odd.status_code == 400 and odd.json["code"] == "VALIDATION_ERROR"
