"""Trace benchmark: public code scans under gunicorn against a bare Flask route under the same
settings, and the time to issue a print run of 100,000 codes.

    python -m bench.trace
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.harness import app_for, free_port, gunicorn, stack, wait_http, wrk

PRINT_RUN = 100_000
SCANNED_CODES = 2000
# The limits stay switched on (their Redis round trips are part of a scan) but out of the way.
UNLIMITED = {"TRACE_RATE_PER_IP": "100000000/minute", "TRACE_RATE_PER_CODE": "100000000/minute"}

SCRIPT = """
codes = {}
for line in io.lines("%s") do codes[#codes + 1] = line end
request = function()
  return wrk.format("GET", "/api/v1/trace/" .. codes[math.random(#codes)] ..
                    "?lat=37.51&lon=122.12&region=%%E5%%B1%%B1%%E4%%B8%%9C")
end
"""


def issue_codes(env: dict, figures: dict, codes_file: Path) -> None:
    """Pack a lot big enough, license a seller and time one print run of PRINT_RUN codes."""
    from backend.catalogue.models import Product
    from backend.demo import pack_batch
    from backend.extensions import db
    from backend.sellers import service as sellers
    from backend.trace import service as trace
    from backend.trace.models import TraceCode

    app = app_for(env)
    with app.app_context():
        lot_id = pack_batch(db.session, {"RS-LIVE-M-5": PRINT_RUN})[0]
        seller = sellers.create_seller(db.session, name="压测卖家")
        db.session.commit()
        sellers.grant_licence(
            db.session,
            seller_id=seller.id,
            product_ids=list(db.session.scalars(db.select(Product.id))),
            valid_from=sellers.today(),
            valid_until=sellers.today() + timedelta(days=30),
            staff_id=None,
        )
        started = time.perf_counter()
        trace.create_print_run(
            db.session, seller_id=seller.id, lot_id=lot_id, quantity=PRINT_RUN, staff_id=None
        )
        figures["print_run_seconds"] = time.perf_counter() - started
        sample = db.session.scalars(
            db.select(TraceCode.code).order_by(TraceCode.id).limit(SCANNED_CODES)
        )
        codes_file.write_text("\n".join(sample) + "\n")
        db.session.remove()


def main() -> None:
    figures: dict = {}
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-trace-"))
    codes_file, script = scratch / "codes.txt", scratch / "scan.lua"
    script.write_text(SCRIPT % codes_file)
    with stack(UNLIMITED, prepare=lambda env: issue_codes(env, figures, codes_file)) as (env, urls):
        bare_port = free_port()
        bare = gunicorn("bench.bare_app:app", bare_port, env)
        try:
            wait_http(f"http://127.0.0.1:{bare_port}/bare")
            wrk(f"http://127.0.0.1:{bare_port}/bare", seconds=2)
            wrk(urls["web"], seconds=2, script=str(script))  # warm up both
            bare_rps, bare_p99 = wrk(f"http://127.0.0.1:{bare_port}/bare")
            scan_rps, scan_p99 = wrk(urls["web"], script=str(script))
        finally:
            bare.terminate()
            bare.wait(timeout=10)
    print(f"bare_flask_rps: {bare_rps:.0f}")
    print(f"bare_flask_p99_ms: {bare_p99:.2f}")
    print(f"scans_per_s: {scan_rps:.0f}")
    print(f"scan_p99_ms: {scan_p99:.2f}")
    print(f"scan_ratio: {scan_rps / bare_rps:.2f}")
    print(f"print_run_codes: {PRINT_RUN}")
    print(f"print_run_seconds: {figures['print_run_seconds']:.2f}")
    print(f"codes_per_s: {PRINT_RUN / figures['print_run_seconds']:.0f}")


if __name__ == "__main__":
    main()
