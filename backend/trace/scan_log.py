"""Scans are counted in Redis and logged to a Redis stream at request time; a job moves the log
into the database in batches. A scan thus costs two Redis round trips instead of a database
write, and thousands of people can scan at once (a live show, a market day).

Per code, a hash keeps what the signals need: the scan count, the first scan's time and region,
the last scan's time and place, and the reasons it was flagged. A code Redis does not know yet
(a first scan, or a new Redis) starts from its state in the database, in the same round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.queue import redis_client

STREAM = "heli:trace:scans"
FLAG_STREAM = "heli:trace:flags"
CODE_KEY = "heli:trace:code:{}"

# KEYS[1] = code hash, KEYS[2] = the scan log; ARGV[1] = how many seed values follow, then
# those field/value pairs (the code's state in the database, used only when Redis does not know
# the code yet), then now, region, lat, lon ("" when unknown), then the log entry's field/value
# pairs. Answers the state after this scan together with the last scan before it:
# {n, first_at, first_region, prev_at, prev_lat, prev_lon, flags}; or nil, counting and logging
# nothing, when Redis does not know the code and no seed came. One round trip a scan.
_RECORD = """
local seeds = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then
  if seeds == 0 then return nil end
  redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + seeds))
end
local at, region, lat, lon = ARGV[2 + seeds], ARGV[3 + seeds], ARGV[4 + seeds], ARGV[5 + seeds]
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 6 + seeds))
local prev = redis.call('HMGET', KEYS[1], 'last_at', 'last_lat', 'last_lon')
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSETNX', KEYS[1], 'first_at', at)
if region ~= '' then redis.call('HSETNX', KEYS[1], 'first_region', region) end
redis.call('HSET', KEYS[1], 'last_at', at)
if lat ~= '' then redis.call('HSET', KEYS[1], 'last_lat', lat, 'last_lon', lon) end
local now = redis.call('HMGET', KEYS[1], 'first_at', 'first_region', 'flags')
return {n, now[1] or '', now[2] or '', prev[1] or '', prev[2] or '', prev[3] or '', now[3] or ''}
"""


@dataclass
class CodeState:
    count: int
    first_at: float | None
    first_region: str | None
    previous_at: float | None
    previous_latitude: float | None
    previous_longitude: float | None
    flags: set[str]


def _float(value: bytes | str) -> float | None:
    return float(value) if value not in (b"", "") else None


def _text(value: bytes | str) -> str | None:
    text = value.decode() if isinstance(value, bytes) else value
    return text or None


def _pairs(entry: dict) -> list:
    return [item for key, value in entry.items() for item in (key, "" if value is None else value)]


def record(
    code_id: int,
    entry: dict,
    *,
    seed: dict | None,
    now: float,
    region: str | None,
    latitude: float | None,
    longitude: float | None,
) -> CodeState | None:
    """Count one scan and log its entry. `seed` is the code's state in the database, which
    Redis takes only if it does not know the code yet (a first scan, or a new Redis); without
    a seed an unknown code answers None and nothing is counted or logged."""
    seeds = _pairs({k: v for k, v in seed.items() if v not in (None, "")}) if seed else []
    if seed is not None and not seeds:
        seeds = ["n", 0]
    args = [
        len(seeds),
        *seeds,
        now,
        region or "",
        "" if latitude is None else latitude,
        "" if longitude is None else longitude,
        *_pairs(entry),
    ]
    answer = redis_client().eval(_RECORD, 2, CODE_KEY.format(code_id), STREAM, *args)
    if answer is None:
        return None
    count, first_at, first_region, prev_at, prev_lat, prev_lon, flags = answer
    return CodeState(
        int(count),
        _float(first_at),
        _text(first_region),
        _float(prev_at),
        _float(prev_lat),
        _float(prev_lon),
        set(filter(None, (_text(flags) or "").split(","))),
    )


def add_flags(code_id: int, flags: set[str], raised: list[dict]) -> None:
    """Remember a code's flags, and log the ones this scan raised for the database."""
    pipe = redis_client().pipeline()
    pipe.hset(CODE_KEY.format(code_id), "flags", ",".join(sorted(flags)))
    for flag in raised:
        pipe.xadd(FLAG_STREAM, {k: "" if v is None else v for k, v in flag.items()})
    pipe.execute()


def log(entry: dict, raised: list[dict]) -> None:
    """Log a scan of a code that is not ours (and the flag it raised)."""
    pipe = redis_client().pipeline()
    pipe.xadd(STREAM, {k: "" if v is None else v for k, v in entry.items()})
    for flag in raised:
        pipe.xadd(FLAG_STREAM, {k: "" if v is None else v for k, v in flag.items()})
    pipe.execute()


def read(stream: str, count: int = 5000) -> list[tuple[str, dict]]:
    """The oldest logged entries of a stream."""
    return [
        (entry_id.decode(), {k.decode(): v.decode() for k, v in fields.items()})
        for entry_id, fields in redis_client().xrange(stream, count=count)
    ]


def trim(stream: str, up_to: str) -> None:
    """Forget logged entries up to and including this id (they are in the database)."""
    ms, seq = up_to.split("-")
    redis_client().xtrim(stream, minid=f"{ms}-{int(seq) + 1}")
