"""The reports and the console's home page: truthful figures from real orders, every report
with its chart data and CSV, bounded date ranges, alerts in plain Chinese linking to where they
are fixed, and only the roles that may read them."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from backend.extensions import db
from backend.reports import period as periods
from backend.reports import service as reports
from backend.staff import service as staff_service

CHART_DATA = re.compile(
    r'<script type="application/json" data-chart-for="([^"]+)"[^>]*>(.*?)</script>'
)


def charts(html: str) -> dict[str, dict]:
    return {box: json.loads(data) for box, data in CHART_DATA.findall(html)}


def test_a_paid_order_shows_in_today_sales_by_channel_and_product(app, shopper, store, console_as):
    order = shopper.buy([(store["RS-LIVE-L-5"], 2)])
    today = periods.today()
    with app.app_context():
        report = reports.run(db.session, "sales", periods.Period(today, today))
        [day] = report.sections[0].rows
        assert (day["orders"], day["gmv_fen"], day["mini_fen"]) == (
            1,
            order["total"],
            order["total"],
        )
        assert day["live_fen"] == 0 and day["pdd_fen"] == 0
        products = reports.run(db.session, "products", periods.Period(today, today))
        [row] = products.sections[0].rows
        assert (row["grade"], row["units"]) == ("大", 2)
        db.session.remove()
    page = console_as("operations").get("/console/reports/sales").get_data(as_text=True)
    drawn = charts(page)
    stacked = drawn["chart-1"]
    assert stacked["x"][-1] == today.isoformat() and stacked["money"] is True
    assert ["小程序", [0] * 29 + [order["total"]], None] in stacked["series"]
    assert "/assets/console/vendor/echarts-6.1.0.min.js" in page


@pytest.mark.parametrize("name", list(reports.REPORTS))
def test_every_report_renders_with_its_chart_script_and_exports_csv(console_as, store, name):
    console = console_as("admin")
    res = console.get(f"/console/reports/{name}?from=2026-01-01&to=2026-03-31")
    assert res.status_code == 200
    page = res.get_data(as_text=True)
    assert "2026-01-01 至 2026-03-31" in page and "charts.js" in page
    csv = console.get(f"/console/reports/{name}.csv?from=2026-01-01&to=2026-03-31")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert (
        csv.data.startswith("\ufeff".encode())
        and f"{name}-2026-01-01-2026-03-31.csv" in (csv.headers["Content-Disposition"])
    )


@pytest.mark.parametrize(
    ("first", "last", "why"),
    [
        ("2026-03-01", "2026-01-01", "结束日期早于开始日期"),
        ("2016-01-01", "2026-01-01", "日期范围最长 400 天"),
        ("2026-13-01", "2026-12-31", "开始日期格式应为"),
    ],
)
def test_a_bad_range_is_refused_with_why(console_as, store, first, last, why):
    console = console_as("admin")
    page = console.get(f"/console/reports/sales?from={first}&to={last}")
    assert page.status_code == 400 and why in page.get_data(as_text=True)
    csv = console.get(f"/console/reports/sales.csv?from={first}&to={last}")
    assert csv.status_code == 400 and why in csv.json["message"]


def test_an_unknown_report_is_a_404(console_as, store):
    assert console_as("admin").get("/console/reports/nothing").status_code == 404


def test_the_range_is_bounded_in_the_service():
    with pytest.raises(Exception, match="400"):
        periods.period("2025-01-01", "2026-12-31")
    period = periods.period(None, "2026-12-06")
    assert (period.first, period.last) == (periods.date(2026, 11, 7), periods.date(2026, 12, 6))
    assert period.until - period.since == timedelta(days=30)


def test_home_shows_today_and_alerts_in_chinese_with_where_to_fix_them(
    app, shopper, store, console_as
):
    order = shopper.buy([(store["RS-LIVE-L-5"], 1)])
    with app.app_context():
        staff_service.raise_alert(
            db.session,
            kind="PLATFORM_SKU_UNMAPPED",
            title="拼多多订单的商品编码无法对应联盟商品，请映射",
            platform_order_id=1,
            order_no="PDD-1",
            codes=["WANG-OYSTER-BIG"],
        )
        db.session.commit()
        db.session.remove()
    page = console_as("admin").get("/console/").get_data(as_text=True)
    assert f"¥{order['total'] / 100:,.2f}" in page
    assert "平台商品未对应联盟规格" in page and "平台商品编码：WANG-OYSTER-BIG" in page
    assert "PLATFORM_SKU_UNMAPPED" not in page and "['WANG-OYSTER-BIG']" not in page
    assert 'href="/console/platform-orders">去处理' in page or "去处理" in page
    assert "sales-trend" in charts(page)


def test_reports_are_for_the_roles_that_read_them(console_as, store):
    warehouse = console_as("warehouse")
    assert warehouse.get("/console/reports/sales").status_code == 403
    home = warehouse.get("/console/").get_data(as_text=True)
    assert "今日成交额" not in home and "待打包" in home
    assert console_as("finance").get("/console/reports/doa").status_code == 200
