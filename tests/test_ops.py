"""Operations (backend/ops, /console/ops, /console/ops/rq, /metrics): who may look, what the
periodic jobs' last runs say, which outside services are sandboxes, what /metrics counts, and a
request id carried from the web through jobs to the worker's log lines."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import pytest
from flask import Flask
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from backend import requestid
from backend.audit.models import AuditRecord
from backend.config import SANDBOX_PATHS, Config
from backend.extensions import db
from backend.notices import service as notices
from backend.ops import connections, runs, service
from backend.queue import enqueue
from backend.sellers import service as sellers
from jobs.base import job
from jobs.scheduler import SCHEDULE, Periodic, enqueue_periodic

ORIGIN_HEADERS = {"Sec-Fetch-Site": "same-origin"}


@job
def broken_job():
    raise RuntimeError("码头断网了")


@job
def fine_job():
    logging.getLogger("heli.test").info("inside the job")
    return requestid.current()


def work_off(app, *queues: str) -> None:
    """One burst of a real rq worker in this process (jobs run in the app context)."""
    with app.app_context():
        redis = app.extensions["heli_redis"]
        SimpleWorker(list(queues) or ["default"], connection=redis).work(burst=True)


def failed_job(app) -> str:
    """A job in the default queue's failed registry (no retries): its id."""
    with app.app_context():
        queue = Queue("default", connection=app.extensions["heli_redis"])
        queued = queue.enqueue("tests.test_ops.broken_job")
    work_off(app)
    with app.app_context():
        registry = FailedJobRegistry("default", connection=app.extensions["heli_redis"])
        assert registry.get_job_ids() == [queued.id]
    return queued.id


# -- who may look --------------------------------------------------------------------------


def test_only_staff_with_the_ops_permission_see_the_ops_page(app, client, console_as):
    res = client.get("/console/ops")
    assert res.status_code == 302 and "/console/login" in res.headers["Location"]
    res = console_as("operations").get("/console/ops")
    assert res.status_code == 403
    assert "无权执行此操作" in res.get_data(as_text=True)
    page = console_as("admin").get("/console/ops")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for shown in ("任务队列", "定时任务", "外部连接", "关闭超时未支付的订单", "尚未运行"):
        assert shown in text


@pytest.mark.parametrize(
    "path, answers_json",
    [
        ("/console/ops/rq/", False),
        ("/console/ops/rq/0/view/workers", False),
        ("/console/ops/rq/0/view/jobs/default/failed/8/asc/1", False),
        ("/console/ops/rq/static/js/jquery-3.5.1.min.js", False),
        ("/console/ops/rq/0/data/queues.json", True),
        ("/console/ops/rq/0/data/workers.json", True),
        ("/console/ops/rq/0/data/jobs/default/failed/8/asc/1.json", True),
    ],
)
def test_the_rq_dashboard_refuses_anyone_without_the_permission(
    app, client, console_as, path, answers_json
):
    anonymous = client.get(path)
    staff = console_as("operations").get(path)
    if answers_json:
        assert anonymous.status_code == 401
        assert anonymous.json["code"] == "STAFF_LOGIN_REQUIRED"
        assert staff.status_code == 403 and staff.json["code"] == "PERMISSION_DENIED"
        assert "无权" in staff.json["message"]
    else:
        assert anonymous.status_code == 302
        assert "/console/login" in anonymous.headers["Location"]
        assert staff.status_code == 403
    assert console_as("admin").get(path).status_code == 200


def test_rq_dashboard_actions_are_refused_to_staff_without_the_permission(app, client, console_as):
    job_id = failed_job(app)
    path = f"/console/ops/rq/job/{job_id}/requeue"
    assert client.post(path, headers=ORIGIN_HEADERS).status_code == 401
    refused = console_as("warehouse").post(path, headers=ORIGIN_HEADERS)
    assert refused.status_code == 403 and refused.json["code"] == "PERMISSION_DENIED"
    with app.app_context():
        registry = FailedJobRegistry("default", connection=app.extensions["heli_redis"])
        assert registry.get_job_ids() == [job_id]  # still failed


def test_admin_retries_and_discards_failed_jobs_on_the_apps_redis_audited(app, console_as):
    admin = console_as("admin")
    redis = app.extensions["heli_redis"]
    listed = admin.get("/console/ops/rq/0/data/jobs/default/failed/8/asc/1.json")
    assert listed.json["jobs"] == []
    job_id = failed_job(app)
    queues = admin.get("/console/ops/rq/0/data/queues.json").json["queues"]
    default = next(queue for queue in queues if queue["name"] == "default")
    assert default["failed_job_registry_count"] == 1
    assert app.redis_conn is redis  # the app's own connection, not one opened from a URL

    retried = admin.post(f"/console/ops/rq/job/{job_id}/requeue", headers=ORIGIN_HEADERS)
    assert retried.status_code == 200 and retried.json["status"] == "OK"
    assert Queue("default", connection=redis).job_ids == [job_id]
    assert FailedJobRegistry("default", connection=redis).get_job_ids() == []

    work_off(app)  # fails again
    discarded = admin.post(f"/console/ops/rq/job/{job_id}/delete", headers=ORIGIN_HEADERS)
    assert discarded.status_code == 200 and discarded.json["status"] == "OK"
    assert not Job.exists(job_id, connection=redis)
    assert FailedJobRegistry("default", connection=redis).get_job_ids() == []

    with app.app_context():
        ops = db.select(AuditRecord).where(AuditRecord.action.like("ops.%"))
        records = list(db.session.scalars(ops.order_by(AuditRecord.id)))
        assert [(r.action, r.target_type, r.target_id) for r in records] == [
            ("ops.job_requeue", "job", job_id),
            ("ops.job_delete", "job", job_id),
        ]
        assert all(r.staff_id == admin.staff_id for r in records)
        db.session.remove()


def test_rq_dashboard_actions_come_from_the_console_itself_by_post(app, console_as):
    admin = console_as("admin")
    job_id = failed_job(app)
    redis = app.extensions["heli_redis"]
    path = f"/console/ops/rq/job/{job_id}/requeue"
    # no header saying where it comes from, another port of this host, another site
    for headers in ({}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"}):
        res = admin.post(path, headers=headers)
        assert res.status_code == 403 and res.json["code"] == "CROSS_SITE_REFUSED", headers
    # rq-dashboard also takes "retry every failed job" by GET: not here
    res = admin.get("/console/ops/rq/requeue/default", headers=ORIGIN_HEADERS)
    assert res.status_code == 405 and res.json["message"] == "请用 POST 提交此操作"
    assert FailedJobRegistry("default", connection=redis).get_job_ids() == [job_id]
    res = admin.post("/console/ops/rq/requeue/default", headers=ORIGIN_HEADERS)
    assert res.json == {"status": "OK", "count": 1}
    assert Queue("default", connection=redis).job_ids == [job_id]


# -- periodic jobs and their last run --------------------------------------------------------


def test_every_periodic_job_has_a_chinese_name_on_the_page():
    assert {entry.id for entry in SCHEDULE} <= set(service.PERIODIC_LABELS)


def test_the_worker_records_each_periodic_jobs_last_run(app, console_as):
    fine = Periodic("test-fine", "tests.test_ops.fine_job", 60)
    broken = Periodic("test-broken", "tests.test_ops.broken_job", 60)
    redis = app.extensions["heli_redis"]
    with app.app_context():
        assert enqueue_periodic(fine) and enqueue_periodic(broken)
        [first, second] = Queue("default", connection=redis).get_jobs()
        assert first.meta[runs.META_KEY] == "test-fine"
        assert second.meta[runs.META_KEY] == "test-broken"
        never = service.scheduled_jobs(redis, [fine, broken])
        assert [job.outcome_label for job in never] == ["尚未运行", "尚未运行"]
    work_off(app)
    with app.app_context():
        ran = {job.id: job for job in service.scheduled_jobs(redis, [fine, broken])}
    assert ran["test-fine"].last.outcome == runs.OK
    assert ran["test-fine"].outcome_label == "成功"
    assert ran["test-fine"].last.job_id == first.id
    assert ran["test-fine"].last.started_at <= ran["test-fine"].last.finished_at
    assert ran["test-fine"].last.seconds is not None and ran["test-fine"].last.seconds < 5
    assert ran["test-broken"].outcome_label == "失败"
    assert ran["test-broken"].last.error == "RuntimeError: 码头断网了"
    # the job itself failed as it would have: rq schedules its retry
    assert second.id in ScheduledJobRegistry("default", connection=redis).get_job_ids()

    # a run that starts keeps the last outcome until it finishes
    runs.started(redis, "test-broken", job_id="next")
    with app.app_context():
        [again] = service.scheduled_jobs(redis, [broken])
    assert again.outcome_label == "运行中" and again.last.outcome == runs.FAILED
    assert again.last.seconds is None


def test_the_ops_page_shows_the_last_run_of_the_real_schedule(app, console_as):
    redis = app.extensions["heli_redis"]
    runs.started(redis, "persist-scans", job_id="j1", at=1_800_000_000.0)
    runs.finished(redis, "persist-scans", outcome=runs.OK, at=1_800_000_001.5)
    runs.started(redis, "sweep-notices", job_id="j2", at=1_800_000_000.0)
    runs.finished(
        redis, "sweep-notices", outcome=runs.FAILED, error="OperationalError: 数据库忙", at=1.8e9
    )
    text = console_as("admin").get("/console/ops").get_data(as_text=True)
    scans = text.split('id="periodic-persist-scans"')[1].split("</tr>")[0]
    # 1 800 000 000 s after the epoch is 2027-01-15 08:00:00 UTC, 16:00 in Shanghai
    assert "2027-01-15 16:00:00" in scans and "2027-01-15 16:00:01" in scans
    assert "1.50 秒" in scans and "成功" in scans and "每 5 秒" in scans
    sweep = text.split('id="periodic-sweep-notices"')[1].split("</tr>")[0]
    assert "失败" in sweep and "OperationalError: 数据库忙" in sweep
    daily = text.split('id="periodic-report-expiring-lots"')[1].split("</tr>")[0]
    assert "每天 07:00" in daily and "尚未运行" in daily


# -- outside connections -------------------------------------------------------------------


def test_every_outside_base_url_is_listed():
    listed = {setting for outside in connections.OUTSIDE for setting in outside.base_settings}
    assert set(SANDBOX_PATHS) <= listed
    assert all(hasattr(Config, setting) for setting in listed)


def test_real_services_show_their_own_hosts_and_never_a_secret():
    config = Config().as_flask_config()
    config.update(WECHAT_APPID="wx0123", WECHAT_SECRET="s3cr3t-wechat", JD_APP_KEY="jd-key")
    config["TAOBAO_API_BASE"] = "https://proxy.alliance.example/taobao"
    found = {link.name: link for link in connections.connections(config)}
    assert {link.mode for link in found.values()} == {connections.REAL}
    wechat = found["微信小程序接口"]
    assert [(b.host, b.mode, b.usual) for b in wechat.bases] == [
        ("api.weixin.qq.com", "正式", True)
    ]
    assert (wechat.credentials_set, wechat.credentials_needed) == (2, 2)
    assert (found["京东"].credentials_set, found["京东"].credentials_needed) == (1, 2)
    taobao = found["淘宝"].bases[0]
    assert (taobao.host, taobao.mode, taobao.usual) == ("proxy.alliance.example", "正式", False)
    assert found["微信支付"].bases[0].host == "api.mch.weixin.qq.com"


def test_sandbox_services_are_called_sandbox():
    config = Config().as_flask_config()
    config.update(SANDBOX_URL="http://10.0.0.5:8001", WECHAT_API_BASE="http://10.0.0.5:8001/")
    config["KUAIDI100_API_BASE"] = "http://localhost:9000"  # a stand-in set by hand
    config["WECHATPAY_API_BASE"] = "http://[::1]:8001"
    found = {link.name: link for link in connections.connections(config)}
    assert found["微信小程序接口"].mode == "沙箱"
    assert found["微信小程序接口"].bases[0].host == "10.0.0.5:8001"
    assert found["微信支付"].mode == "沙箱"
    courier = found["快递100（电子面单、物流跟踪）"]
    assert [b.mode for b in courier.bases] == ["沙箱", "正式"]
    assert courier.mode == "沙箱"  # half a sandbox is not real
    assert found["抖店"].mode == "正式"


def test_the_ops_page_says_the_suite_talks_to_the_sandbox(app, console_as, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_SECRET", "never-shown-secret-1234")
    text = console_as("admin").get("/console/ops").get_data(as_text=True)
    assert "never-shown-secret-1234" not in text
    section = text.split('id="connections"')[1]
    wechat = section.split('id="connection-1"')[1].split("</tr>")[0]
    assert "微信小程序接口" in wechat and "沙箱" in wechat
    assert sandbox.url.split("//")[1] in wechat


# -- /metrics ------------------------------------------------------------------------------


def test_metrics_are_for_staff_with_the_permission_or_the_scraper(
    app, client, console_as, monkeypatch
):
    res = client.get("/metrics")
    assert res.status_code == 401 and res.json["code"] == "METRICS_LOGIN_REQUIRED"
    assert res.headers["WWW-Authenticate"].startswith("Bearer")
    # no token configured: no bearer gets in, not even an empty one
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
    res = console_as("finance").get("/metrics")
    assert res.status_code == 403 and res.json["code"] == "PERMISSION_DENIED"
    assert console_as("admin").get("/metrics").status_code == 200
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-me-0123456789")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-x"})
    assert wrong.status_code == 401
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
    assert right.status_code == 200
    assert right.headers["Content-Type"].startswith("text/plain; version=")


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in the scrape")


def test_metrics_count_requests_per_endpoint_queues_failed_jobs_and_notices(
    app, client, console_as, store
):
    admin = console_as("admin")
    products = 'endpoint="api_v1.list_products",method="GET",status="200"'
    before = admin.get("/metrics").get_data(as_text=True)
    counted = f"heli_http_requests_total{{{products}}}"
    start = _value(before, counted) if counted in before else 0.0
    for _ in range(3):  # answered by the hot path, below Flask
        assert client.get("/api/v1/products").status_code == 200
    failed_job(app)
    with app.app_context():
        enqueue("tests.test_ops.fine_job")
        enqueue("tests.test_ops.fine_job")
        seller = sellers.create_seller(db.session, name="海阳所老于家牡蛎")
        db.session.flush()
        for n in range(3):
            notices.notify(
                db.session,
                seller_id=seller.id,
                kind="test",
                title="通知",
                body="",
                dedupe_key=f"m{n}",
            )
        db.session.commit()
        db.session.remove()
    text = admin.get("/metrics").get_data(as_text=True)
    assert _value(text, counted) == start + 3
    assert (
        'heli_http_request_duration_seconds_count{endpoint="api_v1.list_products",method="GET"}'
        in text
    )
    assert _value(text, 'heli_queue_jobs{queue="default",state="queued"}') == 2
    assert _value(text, 'heli_queue_jobs{queue="notices",state="queued"}') == 3
    assert _value(text, 'heli_queue_failed_jobs{queue="default"}') == 1
    assert _value(text, 'heli_queue_failed_jobs{queue="notices"}') == 0
    assert _value(text, "heli_notices_pending") == 3
    assert _value(text, "heli_workers") == 0
    unmatched = 'heli_http_requests_total{endpoint="unmatched",method="GET",status="404"}'
    seen = _value(text, unmatched) if unmatched in text else 0.0
    client.get("/no/such/page")
    assert _value(admin.get("/metrics").get_data(as_text=True), unmatched) == seen + 1


def test_several_worker_processes_are_added_up(tmp_path):
    """gunicorn's workers each count their own requests into PROMETHEUS_MULTIPROC_DIR; a scrape
    answered by any of them adds them all up."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = textwrap.dedent(
        """
        from backend.ops import metrics
        for _ in range({n}):
            metrics.REQUESTS.labels("console.ops_page", "GET", "200").inc()
            metrics.LATENCY.labels("console.ops_page", "GET").observe(0.02)
        """
    )
    for n in (2, 5):  # two worker processes
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True)
    scrape = "from backend.ops import metrics; print(metrics.counted().decode())"
    text = subprocess.run(
        [sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True
    ).stdout
    labels = 'endpoint="console.ops_page",method="GET",status="200"'
    assert _value(text, f"heli_http_requests_total{{{labels}}}") == 7
    timing = (
        'heli_http_request_duration_seconds_bucket{endpoint="console.ops_page",le="0.025",'
        'method="GET"}'
    )
    assert _value(text, timing) == 7


# -- request ids ---------------------------------------------------------------------------


def test_every_answer_carries_a_request_id_the_callers_if_valid(app, client, store):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert requestid.VALID.fullmatch(made)
    assert client.get("/healthz").headers["X-Request-ID"] != made
    kept = "7f9c2ba4-e88f-4e3a-9a9b-4c1d2e3f4a5b"
    assert client.get("/healthz", headers={"X-Request-ID": kept}).headers["X-Request-ID"] == kept
    # the hot paths, answered below Flask, too
    hot = client.get("/api/v1/products", headers={"X-Request-ID": kept})
    assert hot.status_code == 200 and hot.headers.getlist("X-Request-ID") == [kept]
    for bad in ("short", "x" * 65, "abc def ghi", "id;X-Admin:1", "<script>1234</script>"):
        answered = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert answered != bad and requestid.VALID.fullmatch(answered)


class Kept(logging.Handler):
    def __init__(self):
        super().__init__()
        self.addFilter(requestid.RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_log_lines_of_a_request_carry_its_id():
    web = Flask("tiny")

    @web.get("/work")
    def work():
        logging.getLogger("heli.test").warning("working")
        return "ok"

    web.wsgi_app = requestid.RequestIds(web.wsgi_app)
    kept = Kept()
    logger = logging.getLogger("heli.test")
    logger.addHandler(kept)
    try:
        answer = web.test_client().get("/work", headers={"X-Request-ID": "req-0001-abcd"})
        logger.warning("outside any request")
    finally:
        logger.removeHandler(kept)
    assert answer.headers["X-Request-ID"] == "req-0001-abcd"
    assert [(r.getMessage(), r.request_id) for r in kept.records] == [
        ("working", "req-0001-abcd"),
        ("outside any request", "-"),
    ]
    formatted = logging.Formatter(requestid.LOG_FORMAT).format(kept.records[0])
    assert "[req-0001-abcd] heli.test: working" in formatted


def test_jobs_enqueued_during_a_request_run_and_log_under_its_id(app):
    redis = app.extensions["heli_redis"]
    kept = Kept()
    for name in ("heli.jobs", "heli.test"):
        logging.getLogger(name).addHandler(kept)
        logging.getLogger(name).setLevel(logging.INFO)  # (as configure_logging sets the root)
    try:
        with app.app_context(), requestid.bound("req-from-web-42"):
            seller = sellers.create_seller(db.session, name="海阳所老于家牡蛎")
            db.session.flush()
            notices.notify(  # enqueued after commit, by the notices service
                db.session, seller_id=seller.id, kind="test", title="通知", body="", dedupe_key="r1"
            )
            db.session.commit()
            db.session.remove()
            mine = enqueue("tests.test_ops.fine_job")
        with app.app_context():
            other = enqueue("tests.test_ops.fine_job")  # enqueued outside any request
        [delivery] = Queue("notices", connection=redis).get_jobs()
        assert delivery.meta[requestid.META_KEY] == "req-from-web-42"
        assert mine.meta[requestid.META_KEY] == "req-from-web-42"
        assert requestid.META_KEY not in other.meta
        work_off(app, "default")
    finally:
        for name in ("heli.jobs", "heli.test"):
            logging.getLogger(name).removeHandler(kept)
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert Job.fetch(mine.id, connection=redis).return_value() == "req-from-web-42"
    assert Job.fetch(other.id, connection=redis).return_value() == other.id
    lines = [(r.request_id, r.getMessage()) for r in kept.records]
    assert ("req-from-web-42", "inside the job") in lines
    assert ("req-from-web-42", f"job tests.test_ops.fine_job started ({mine.id})") in lines
    assert (other.id, "inside the job") in lines


def test_each_comment_batch_of_the_bot_gets_a_request_id():
    from bots.cohost.bot import CoHost

    seen = []

    class Probe:
        def _handle_batch(self, room_id, entries, *, acknowledge):
            seen.append(requestid.current())

    CoHost.handle_batch(Probe(), 1, [], acknowledge=True)
    CoHost.handle_batch(Probe(), 1, [], acknowledge=True)
    assert all(requestid.VALID.fullmatch(each) for each in seen)
    assert len(set(seen)) == 2 and requestid.current() is None
