"""The stand-in of a processing plant's line system: replays realistic days of oyster batches
through Heli's signed processing API (open, wash, sort, depurate, inspect, pack).

    python -m sandbox.processing_line [--url URL] [--days 3] [--batches-per-day 3] [--seed 7]
                                      [--follow] [--interval 600]

Everything a batch reports is a pure function of (seed, batch code) and report ids are
`{batch_code}:{step}`, so running it twice changes nothing: the API answers a repeated report with
its first answer. Like the rest of `sandbox/`, it imports nothing of the backend; what the line
knows (grades, SKUs, sea areas, shelf life) is its own copy in `processing_plan.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from .line_client import API, LineClient, LineError
from .settings import ENV_FILE, parse_env_file

PLAN = json.loads((Path(__file__).with_name("processing_plan.json")).read_text(encoding="utf-8"))
SHANGHAI = timezone(timedelta(hours=8))
FIRST_HARVEST_HOUR = 4  # boats land the first catch before dawn
HARVEST_SPACING = timedelta(minutes=40)
MAX_BATCHES_PER_DAY = 24  # the last of 24 lands at 20:00
SAMPLE_PIECES = 3000  # pieces drawn to shape a batch's size distribution
MIN_SHELF_LEFT = timedelta(hours=24)  # a lot needs a day to sell and ship, or it is not packed
SAFETY = timedelta(minutes=2)  # every reported time stays this far behind the clock
FOLLOW_BATCH_BASE = 100  # live-line batches are numbered from here, apart from replayed ones


@dataclass(frozen=True)
class BatchPlan:
    """What the line will report for one batch: the reports up to inspection, in line order, as
    (step, path, expected status, body), and what packing needs. Times are aware (+08:00)."""

    code: str
    sea_area: str
    weight_g: int
    harvested_at: datetime
    grades: list[dict]
    passed: bool
    packed_at: datetime
    reports: list[tuple[str, str, int, dict]]


def _after(rng: random.Random, at: datetime, low_min: float, high_min: float) -> datetime:
    return (at + timedelta(minutes=rng.uniform(low_min, high_min))).replace(microsecond=0)


def _iso(at: datetime) -> str:
    return at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def plan_batch(seed: int, code: str, harvested_at: datetime, passed: bool) -> BatchPlan:
    """One batch's harvest, steps and measurements, drawn from a generator seeded by its code."""
    rng, at = random.Random(f"{seed}:{code}"), f"{API}/{code}"
    harvested_at = _after(rng, harvested_at, 0, 10)
    weight_g = rng.randint(1_500_000, 4_000_000)
    sea_area = rng.choice(PLAN["sea_areas"])
    washed_at = _after(rng, harvested_at, 30, 60)
    wash = {"water_temp_c": round(rng.uniform(8, 16), 1), "duration_min": rng.randint(20, 45)}
    sorted_at = _after(rng, washed_at, wash["duration_min"] + 20, wash["duration_min"] + 40)
    grades = sort_harvest(rng, weight_g)
    hours = round(rng.uniform(20, 26), 1)
    depuration = {
        "hours": hours,
        "water_temp_c": round(rng.uniform(12, 18), 1),
        "salinity_permille": round(rng.uniform(28, 33), 1),
    }
    if rng.random() < 0.7:  # not every tank has a UV lamp
        depuration["uv_dose"] = rng.randint(40, 120)
    # Depuration is reported when it ends, `hours` after the oysters went into the tanks.
    depurated_at = _after(rng, sorted_at, 15 + hours * 60, 30 + hours * 60)
    inspected_at = _after(rng, depurated_at, 60, 120)
    harvest = {"sea_area": sea_area, "harvested_at": _iso(harvested_at), "weight_g": weight_g}
    opening = {"batch_code": code, "product_line": PLAN["product_line"], "harvest": harvest}
    inspection = {"passed": passed, "report_no": f"RSQC-{code}", "lab": PLAN["lab"]}
    return BatchPlan(
        code=code,
        sea_area=sea_area,
        weight_g=weight_g,
        harvested_at=harvested_at,
        grades=grades,
        passed=passed,
        packed_at=_after(rng, inspected_at, 30, 60),
        reports=[
            ("open", API, 201, opening),
            ("wash", f"{at}/steps", 200, _step("wash", washed_at, wash)),
            ("sort", f"{at}/sorting", 200, {"performed_at": _iso(sorted_at), "grades": grades}),
            ("depurate", f"{at}/steps", 200, _step("depurate", depurated_at, depuration)),
            (
                "inspect",
                f"{at}/inspection",
                200,
                {"performed_at": _iso(inspected_at), **inspection},
            ),
        ],
    )


def _step(step: str, performed_at: datetime, measurements: dict) -> dict:
    return {"step": step, "performed_at": _iso(performed_at), "measurements": measurements}


def _grade_of(piece_g: float) -> str | None:
    """The grade band (by pieces per kg) a piece falls in; gaps split halfway; too small: None."""
    per_kg = 1000 / piece_g
    for grade in PLAN["grades"]:
        if per_kg <= grade["pieces_per_kg"][1] + 0.5:
            return grade["code"]
    return None


def sort_harvest(rng: random.Random, weight_g: int) -> list[dict]:
    """Machine sorting: a normal spread of piece weights mapped to grade bands, scaled to the
    harvest; mud, broken shells and undersize pieces are not graded, so the total stays below."""
    spec = PLAN["piece_weight_g"]
    mean, sd = rng.uniform(*spec["mean"]), rng.uniform(*spec["sd"])
    pieces = [max(spec["min"], rng.gauss(mean, sd)) for _ in range(SAMPLE_PIECES)]
    sample: dict[str, list[float]] = {}
    for piece in pieces:
        grade = _grade_of(piece)
        if grade is not None:
            counted = sample.setdefault(grade, [0, 0.0])
            counted[0] += 1
            counted[1] += piece
    shells_g = weight_g * rng.uniform(0.94, 0.99)
    result = []
    for grade in PLAN["grades"]:
        sampled, weight = sample.get(grade["code"], (0, 0.0))
        if sampled:
            grade_g = int(shells_g * weight / sum(pieces))
            count = round(grade_g * sampled / weight)
            result.append({"grade": grade["code"], "count": count, "weight_g": grade_g})
    return result


def choose_packs(seed: int, plan: BatchPlan, now: datetime) -> list[dict]:
    """Packs per SKU: part of each grade's sorted weight, only in forms with a day of shelf life
    left at `now` (live oysters keep 72 h, so older batches go frozen or ready-to-eat)."""
    rng = random.Random(f"{seed}:{plan.code}:pack")
    packs = []
    for graded in plan.grades:
        skus = [sku for sku in PLAN["skus"] if sku["grade"] == graded["grade"]]
        shares = [rng.uniform(0.2, 1.2) for _ in skus]
        budget_g = graded["weight_g"] * rng.uniform(0.55, 0.9)  # the rest is sold in bulk
        kept = [
            (sku, share)
            for sku, share in zip(skus, shares, strict=True)
            if plan.packed_at + timedelta(hours=PLAN["shelf_life_hours"][sku["form"]])
            >= now + MIN_SHELF_LEFT
        ]
        total = sum(share for _, share in kept)
        for sku, share in kept:
            count = int(budget_g * share / total) // sku["pack_weight_g"]
            if count:
                packs.append({"sku": sku["code"], "count": count})
    return packs


def run_batch(client: LineClient, plan: BatchPlan, seed: int, now: datetime) -> dict:
    """Report one batch step by step, then pack it if it passed; answers what happened."""
    for step, path, expected, body in plan.reports:
        client.report(path, {"report_id": f"{plan.code}:{step}", **body}, expected)
    outcome = {"plan": plan, "lots": [], "packs": [], "note": ""}
    packs = choose_packs(seed, plan, now) if plan.passed else []
    if plan.passed and not packs:
        outcome["note"] = "无可包装 SKU nothing to pack"
    if not packs:
        return outcome
    body = {"report_id": f"{plan.code}:pack", "packed_at": _iso(plan.packed_at), "packs": packs}
    try:
        answer = client.report(f"{API}/{plan.code}/packing", body, 201)
    except LineError as exc:
        if exc.code != "REPORT_ID_REUSED":
            raise
        # An earlier run packed it while its live packs still had shelf life; those lots stand.
        outcome["note"] = "已包装（早先的包装报告）packed by an earlier run"
        return outcome
    outcome["lots"], outcome["packs"] = answer.get("lots", []), packs
    return outcome


def describe(outcome: dict) -> str:
    """One summary line per batch, in Chinese and English."""
    plan = outcome["plan"]
    grades = " ".join(
        f"{g['grade']} {g['weight_g'] / 1000:.0f}kg/{g['count']}只" for g in plan.grades
    )
    if plan.passed:
        inspection = "合格 passed"
        packed = " ".join(f"{p['sku']}×{p['count']}" for p in outcome["packs"])
        lots = f"入库 lots {len(outcome['lots'])}" + (f" ({packed})" if packed else "")
    else:
        inspection = f"不合格 FAILED (RSQC-{plan.code})"
        lots = "不包装 not packed"
    parts = [
        plan.code,
        plan.sea_area,
        f"采收 harvest {plan.weight_g / 1000:.0f}kg {plan.harvested_at:%m-%d %H:%M}",
        f"分级 grades {grades}",
        f"检验 inspection {inspection}",
        lots,
    ]
    return " | ".join(parts + ([outcome["note"]] if outcome["note"] else []))


def _tally(summary: dict, outcome: dict) -> None:
    summary["batches"] += 1
    summary["failed_inspections"] += not outcome["plan"].passed
    summary["lots"] += len(outcome["lots"])
    summary["packs"] += sum(lot["quantity"] for lot in outcome["lots"])


def plans_of_day(day: date, batches_per_day: int, seed: int) -> list[BatchPlan]:
    """The batches harvested on one day; about 1 in 10 fails inspection, fixed by date and seed
    (7 is coprime to 10, so ten days of batches cycle through every remainder)."""
    first = datetime(day.year, day.month, day.day, FIRST_HARVEST_HOUR, tzinfo=SHANGHAI)
    return [
        plan_batch(
            seed,
            f"RS{day:%Y%m%d}-{n}",
            first + (n - 1) * HARVEST_SPACING,
            passed=(day.toordinal() * 7 + n + seed) % 10 != 0,
        )
        for n in range(1, batches_per_day + 1)
    ]


def replay_plans(days: int, batches_per_day: int, seed: int, now: datetime) -> list[BatchPlan]:
    """The last `days` harvest days whose batches are all packed before `now`, oldest first."""
    last = now.astimezone(SHANGHAI).date()
    while max(p.packed_at for p in plans_of_day(last, batches_per_day, seed)) > now - SAFETY:
        last -= timedelta(days=1)  # depuration takes a day: recent harvests are still in tanks
    return [
        plan
        for back in range(days - 1, -1, -1)
        for plan in plans_of_day(last - timedelta(days=back), batches_per_day, seed)
    ]


def replay(
    url: str,
    key_id: str,
    secret: str,
    days: int = 3,
    batches_per_day: int = 3,
    seed: int = 7,
    *,
    echo=print,
    stop: threading.Event | None = None,
    now: datetime | None = None,
) -> dict:
    """Replay the last days of batches; answers counts: batches, failed_inspections, lots, packs."""
    if not 1 <= batches_per_day <= MAX_BATCHES_PER_DAY:
        raise ValueError(f"batches_per_day must be 1..{MAX_BATCHES_PER_DAY}")
    client = LineClient(url, key_id, secret)
    client.wait_until_up()
    # One clock reading per run: it picks the days and which forms are still worth packing.
    now = now or datetime.now(SHANGHAI)
    plans = replay_plans(days, batches_per_day, seed, now)
    echo(
        f"回放 replay {plans[0].harvested_at:%Y-%m-%d} … {plans[-1].harvested_at:%Y-%m-%d}, "
        f"{batches_per_day} 批/天 batches/day → {client.url}"
    )
    summary = {"batches": 0, "failed_inspections": 0, "lots": 0, "packs": 0}
    for plan in plans:
        if stop is not None and stop.is_set():
            break
        outcome = run_batch(client, plan, seed, now)
        _tally(summary, outcome)
        echo(describe(outcome))
    echo(
        f"合计 total: {summary['batches']} 批次 batches, {summary['failed_inspections']} "
        f"检验不合格 failed inspections, {summary['lots']} 批次库存 lots, "
        f"{summary['packs']} 件 packs"
    )
    return summary


def follow(client: LineClient, seed: int, interval: int, stop: threading.Event, echo=print) -> None:
    """The live line: every `interval` seconds one batch finishes packing "now". Its code comes
    from the time slot, so a restart within the same slot resends the same reports."""
    while not stop.is_set():
        now = datetime.now(SHANGHAI)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        slot = int((now - midnight).total_seconds()) // interval
        slot_at = midnight + timedelta(seconds=slot * interval)
        code = f"RS{now:%Y%m%d}-{FOLLOW_BATCH_BASE + slot}"
        passed = random.Random(f"{seed}:{code}:inspection").random() >= 0.1
        # Depuration takes a day, so a batch packed now was harvested the day before; the same
        # code draws the same durations, so a draft tells how far back its harvest was.
        draft = plan_batch(seed, code, slot_at, passed)
        plan = plan_batch(seed, code, slot_at - (draft.packed_at - slot_at), passed)
        try:
            echo(describe(run_batch(client, plan, seed, now)))
        except LineError as exc:
            if exc.status:  # a refusal is a bug to look at; an outage is waited out
                raise
            echo(f"本轮跳过 tick skipped: {exc.message}")
        stop.wait((slot_at + timedelta(seconds=interval) - datetime.now(SHANGHAI)).total_seconds())


def _credentials() -> tuple[str, str]:
    key_id, secret = os.environ.get("PROCESSING_KEY_ID"), os.environ.get("PROCESSING_SECRET")
    if not (key_id and secret):
        env = parse_env_file(ENV_FILE)
        key_id, secret = (
            key_id or env.get("PROCESSING_KEY_ID"),
            secret or env.get("PROCESSING_SECRET"),
        )
    if not (key_id and secret):
        sys.exit(f"缺少 PROCESSING_KEY_ID / PROCESSING_SECRET（环境变量或 {ENV_FILE}）")
    return key_id, secret


def _echo(line: str) -> None:
    print(line, flush=True)  # honcho shows a line as soon as it is printed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.processing_line", description="加工厂产线模拟 processing line"
    )
    parser.add_argument(
        "--url", default=os.environ.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000"
    )
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--batches-per-day", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--follow", action="store_true", help="keep running as the live line")
    parser.add_argument("--interval", type=int, default=600, help="seconds between live batches")
    args = parser.parse_args(argv)
    if args.days < 1 or not 1 <= args.batches_per_day <= MAX_BATCHES_PER_DAY or args.interval < 10:
        parser.error(f"--days ≥ 1, --batches-per-day 1..{MAX_BATCHES_PER_DAY}, --interval ≥ 10")
    key_id, secret = _credentials()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    target = (args.url, key_id, secret)
    try:
        replay(*target, args.days, args.batches_per_day, args.seed, echo=_echo, stop=stop)
        if args.follow and not stop.is_set():
            _echo(
                f"产线运行中 live line: 每 {args.interval} 秒一批 one batch every {args.interval} s"
            )
            follow(LineClient(*target), args.seed, args.interval, stop, _echo)
    except LineError as exc:
        hint = ""
        if exc.code == "REPORT_ID_REUSED":
            hint = "（该批次已用不同数据报告过，是否换了 --seed？ reported before with other data）"
        print(f"停止 stopped: {exc}{hint}", file=sys.stderr)
        return 1
    if stop.is_set():
        _echo("已停止 stopped by signal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
