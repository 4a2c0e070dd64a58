"""Trace benchmark: public code scans under gunicorn against a bare Flask route under the same
settings, the time to issue a print run of 100,000 codes, and proof that every answered scan was
stored.

    python -m bench.trace [--postgres] [--smoke] [--rounds N]

It packs its own lot, licenses its own seller and prints its own codes. Scans and the bare route
are measured in turns (bare, scans, bare, scans, ...) so that a neighbour's load falls on both:
scan_ratio is the median of each turn's scans ÷ bare. The rate limits stay switched on (they are
part of a scan's Redis round trip) but out of the way. Afterwards the scan log is moved into the
database as the persist-scans job does; the exit status is 1 when a scan answered anything but
200, or when fewer scans were stored than answered, or than Redis counted.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

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

SIZES = {
    # print run, codes scanned, seconds per measured turn, warm-up seconds
    "full": (100_000, 2000, 8, 2),
    "smoke": (1000, 200, 1, 1),
}
ROUNDS = 3
UNLIMITED = {"TRACE_RATE_PER_IP": "100000000/minute", "TRACE_RATE_PER_CODE": "100000000/minute"}

# Random codes among the scanned ones, with a place; done() adds what this run was answered
# (completed requests, then non-2xx answers and socket errors) to the tally file.
SCRIPT = """
codes = {}
for line in io.lines("@CODES@") do codes[#codes + 1] = line end
request = function()
  return wrk.format("GET", "/api/v1/trace/" .. codes[math.random(#codes)] ..
                    "?lat=37.51&lon=122.12&region=%E5%B1%B1%E4%B8%9C")
end
done = function(summary, latency, requests)
  local e = summary.errors
  local tally = io.open("@TALLY@", "a")
  tally:write(string.format("%d %d %d\\n", summary.requests, e.status,
                            e.connect + e.read + e.write + e.timeout))
  tally:close()
end
"""


def issue_codes(env: dict, figures: dict, codes_file: Path, print_run: int, scanned: int) -> None:
    """Pack a lot big enough, license a seller and time one print run."""
    from backend.catalogue.models import Product
    from backend.demo import pack_batch
    from backend.extensions import db
    from backend.sellers import service as sellers
    from backend.trace import service as trace
    from backend.trace.models import TraceCode

    app = app_for(env)
    with app.app_context():
        lot_id = pack_batch(db.session, {"RS-LIVE-M-5": print_run})[0]
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
            db.session, seller_id=seller.id, lot_id=lot_id, quantity=print_run, staff_id=None
        )
        figures["print_run_codes"] = print_run
        figures["print_run_seconds"] = time.perf_counter() - started
        figures["codes_per_s"] = round(print_run / figures["print_run_seconds"])
        sample = db.session.scalars(db.select(TraceCode.code).order_by(TraceCode.id).limit(scanned))
        codes_file.write_text("\n".join(sample) + "\n")
        db.session.remove()


def stored_scans(env: dict) -> dict:
    """Move the scan log into the database as the persist-scans job does; answer how many
    scans are stored, on the codes' counters, and counted by Redis."""
    from backend.extensions import db
    from backend.queue import redis_client
    from backend.trace import scan_log
    from backend.trace.models import TraceCode, TraceScan
    from jobs.trace import LOCK, persist_scans

    app = app_for(env)
    with app.app_context():
        redis = redis_client()
        # The stack's own worker may be draining the log right now (the job runs one at a time):
        # wait for it rather than count a half-moved log.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (redis.xlen(scan_log.STREAM) or redis.exists(LOCK)):
            if not persist_scans():
                time.sleep(0.2)
        counted = sum(
            int(redis.hget(key, "n") or 0)
            for key in redis.scan_iter(scan_log.CODE_KEY.format("*"))
            if not key.endswith(b":clients")
        )
        found = {
            "scans_stored": db.session.scalar(db.select(db.func.count()).select_from(TraceScan)),
            "scans_on_codes": db.session.scalar(db.select(db.func.sum(TraceCode.scan_count))) or 0,
            "scans_counted": counted,
            "scan_log_left": redis.xlen(scan_log.STREAM),
        }
        db.session.remove()
    return found


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rounds", type=int, help=f"turns of bare and scans (default {ROUNDS})")
    options = parser.parse_args()
    print_run, scanned, seconds, warm_up = SIZES["smoke" if options.smoke else "full"]
    rounds = options.rounds or (1 if options.smoke else ROUNDS)
    figures: dict = {}
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-trace-"))
    codes_file, tally, script = scratch / "codes.txt", scratch / "tally.txt", scratch / "scan.lua"
    script.write_text(SCRIPT.replace("@CODES@", str(codes_file)).replace("@TALLY@", str(tally)))

    def prepare(env: dict) -> None:
        issue_codes(env, figures, codes_file, print_run, scanned)

    bares, scans = [], []
    with database(options.postgres, scratch) as url:
        with stack(UNLIMITED, prepare=prepare, database_url=url) as (env, urls):
            bare_port = free_port()
            bare_url = f"http://127.0.0.1:{bare_port}/bare"
            bare = gunicorn("bench.bare_app:app", bare_port, env)
            try:
                wait_http(bare_url)
                wrk(bare_url, seconds=warm_up)
                wrk(urls["web"], seconds=warm_up, script=str(script))  # every code seen once
                for _ in range(rounds):
                    bares.append(wrk(bare_url, seconds=seconds))
                    scans.append(wrk(urls["web"], seconds=seconds, script=str(script)))
            finally:
                stop_all([bare])
            stored = stored_scans(env)
    answered, refused, socket_errors = (
        sum(int(line.split()[n]) for line in tally.read_text().splitlines()) for n in range(3)
    )
    figures = {
        "bare_flask_rps": round(statistics.median(rps for rps, _ in bares)),
        "bare_flask_p99_ms": statistics.median(p99 for _, p99 in bares),
        "scans_per_s": round(statistics.median(rps for rps, _ in scans)),
        "scan_p99_ms": statistics.median(p99 for _, p99 in scans),
        "scan_ratio": statistics.median(s[0] / b[0] for s, b in zip(scans, bares, strict=True)),
        "scan_ratio_turns": " ".join(
            f"{s[0] / b[0]:.2f}" for s, b in zip(scans, bares, strict=True)
        ),
        **figures,
        "scans_answered": answered,
        **stored,
        "scans_lost": max(0, answered - stored["scans_stored"]),
        "scan_errors": refused + socket_errors,
    }
    print_figures(figures)
    broken = (
        figures["scans_lost"]
        or figures["scan_errors"]
        or stored["scan_log_left"]
        or not stored["scans_stored"] == stored["scans_on_codes"] == stored["scans_counted"]
    )
    if broken:
        sys.exit("scans were refused, lost or miscounted")


if __name__ == "__main__":
    main()
