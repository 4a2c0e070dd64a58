"""Reports benchmark: a year of the alliance's business (`backend.demo_history`, at least 300,000
orders and 2,000,000 stock-ledger rows at the default size) on scratch SQLite or PostgreSQL
(--postgres), then
- each report over the whole year, run RUNS times in-process: report_<name>_p95_ms and the
  worst of them, report_p95_ms (goal < 500);
- the console's home page (today's figures, the 30-day sales chart, alerts) under gunicorn with
  a staff session against the bare Flask route in the same run, measured in turns:
  dashboard_rps, bare_flask_rps and dashboard_ratio.
Also history_seconds (how long the year took to write), orders and ledger_rows.

    python -m bench.reports [--orders-per-day 1400] [--runs 7] [--postgres] [--smoke]
"""

from __future__ import annotations

import math
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

from bench.harness import (
    app_for,
    arguments,
    database,
    free_port,
    gunicorn,
    print_figures,
    stack,
    stop_all,
    wait_http,
    wrk,
)

ORDERS_PER_DAY = 1400  # ≈ 510,000 orders and 2 million ledger rows in a year
SMOKE = {"orders_per_day": 4, "runs": 2, "seconds": 1, "rounds": 1}


def seed(env: dict, orders_per_day: int, written: dict) -> None:
    from backend.demo_history import seed_history
    from backend.extensions import db
    from backend.inventory.models import StockMovement
    from backend.orders.models import Order
    from backend.platforms.models import PlatformOrder

    with app_for(env).app_context():
        started = time.monotonic()
        seed_history(db.session, days=365, orders_per_day=orders_per_day)
        written["history_seconds"] = round(time.monotonic() - started, 1)
        count = db.func.count()
        written["orders"] = db.session.scalar(db.select(count).select_from(Order)) + (
            db.session.scalar(db.select(count).select_from(PlatformOrder))
        )
        written["ledger_rows"] = db.session.scalar(db.select(count).select_from(StockMovement))
        db.session.remove()


def time_reports(env: dict, runs: int) -> dict:
    from backend.extensions import db
    from backend.reports import period as periods
    from backend.reports import service as reports

    figures = {}
    last = periods.today()
    year = periods.Period(last - timedelta(days=364), last)
    with app_for(env).app_context():
        for name in reports.REPORTS:
            took = []
            for _ in range(runs):
                started = time.perf_counter()
                report = reports.run(db.session, name, year)
                took.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            assert report.sections, name
            ordered = sorted(took)
            figures[f"report_{name}_p95_ms"] = round(ordered[math.ceil(0.95 * len(ordered)) - 1], 1)
        db.session.remove()
    figures["report_p95_ms"] = max(v for k, v in figures.items() if k.endswith("_p95_ms"))
    return figures


def staff_cookie(web: str) -> str:
    res = requests.post(
        f"{web}/console/api/login",
        json={"username": "admin", "password": "heli-demo"},
        timeout=10,
    )
    res.raise_for_status()
    return "; ".join(f"{name}={value}" for name, value in res.cookies.items())


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--orders-per-day", type=int, default=ORDERS_PER_DAY)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-reports-"))
    figures: dict = {}
    try:
        with database(args.postgres, scratch, "reports.db") as url:
            figures["database"] = url.split(":")[0]
            prepare = lambda env: seed(env, args.orders_per_day, figures)  # noqa: E731
            with stack(prepare=prepare, database_url=url) as (env, urls):
                figures |= time_reports(env, args.runs)
                figures |= measure_dashboard(env, urls["web"], scratch, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_figures(figures)
    if figures.get("dashboard_status") != 200:
        sys.exit(1)


def measure_dashboard(env: dict, web: str, scratch: Path, args) -> dict:
    cookie = staff_cookie(web)
    check = requests.get(f"{web}/console/", headers={"Cookie": cookie}, timeout=30)
    script = scratch / "staff.lua"
    script.write_text(f'wrk.headers["Cookie"] = "{cookie}"\n', "utf-8")
    bare_port = free_port()
    routes = {"bare": f"http://127.0.0.1:{bare_port}/bare", "dashboard": f"{web}/console/"}
    turns: dict[str, list[tuple[float, float]]] = {name: [] for name in routes}
    bare = gunicorn("bench.bare_app:app", bare_port, env)
    try:
        wait_http(routes["bare"])
        for route in routes.values():
            wrk(route, seconds=1, script=str(script))
        for _ in range(args.rounds):
            for name, route in routes.items():
                turns[name].append(wrk(route, seconds=args.seconds, script=str(script)))
    finally:
        stop_all([bare])
    ratios = [d[0] / b[0] for d, b in zip(turns["dashboard"], turns["bare"], strict=True)]
    return {
        "dashboard_status": check.status_code,
        "dashboard_rps": round(statistics.median(t[0] for t in turns["dashboard"])),
        "dashboard_p99_ms": statistics.median(t[1] for t in turns["dashboard"]),
        "bare_flask_rps": round(statistics.median(t[0] for t in turns["bare"])),
        "dashboard_ratio": round(statistics.median(ratios), 3),
    }


if __name__ == "__main__":
    main()
