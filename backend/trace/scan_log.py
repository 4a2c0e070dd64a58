"""Scans are counted in Redis and logged to a Redis stream at request time; a job moves the log
into the database in batches. A scan thus costs two Redis round trips instead of a database
write, and thousands of people can scan at once (a live show, a market day).

Per code, a hash keeps what the signals need: the scan count, the first scan's time and region,
the last located scan's time, place and client, and the reasons it was flagged; and a set keeps
the distinct clients (hashed networks) that scanned it, so one holder scanning again and again
counts once. A code Redis does not know yet (a first scan, or a new Redis) starts from its state
in the database, in the same round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.queue import redis_client

STREAM = "heli:trace:scans"
FLAG_STREAM = "heli:trace:flags"
CODE_KEY = "heli:trace:code:{}"
CLIENTS_KEY = "heli:trace:code:{}:clients"

# KEYS[1] = code hash, KEYS[2] = the scan log, KEYS[3] = the code's set of clients.
# ARGV[1] = how many seed values follow, then those field/value pairs (the code's state in the
# database, used only when Redis does not know the code yet); then how many seed clients follow,
# then those; then now, region, lat, lon ("" when unknown), client; then the log entry's
# field/value pairs. Answers the state after this scan together with the last located scan
# before it: {n, clients, first_at, first_region, loc_at, loc_lat, loc_lon, loc_client, flags};
# or nil, counting and logging nothing, when Redis does not know the code and no seed came.
# The first region is the first scan's own region (set with first_at, never later): a later
# scan cannot name where the code was first seen. One round trip a scan.
_RECORD = """
local seeds = tonumber(ARGV[1])
local clients = tonumber(ARGV[2 + seeds])
local base = 2 + seeds + clients
if redis.call('EXISTS', KEYS[1]) == 0 then
  if seeds == 0 then return nil end
  redis.call('HSET', KEYS[1], unpack(ARGV, 2, 1 + seeds))
  redis.call('DEL', KEYS[3])
  if clients > 0 then redis.call('SADD', KEYS[3], unpack(ARGV, 3 + seeds, base)) end
end
local at, region, lat, lon, client =
  ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4], ARGV[base + 5]
redis.call('XADD', KEYS[2], '*', unpack(ARGV, base + 6))
local prev = redis.call('HMGET', KEYS[1], 'loc_at', 'last_lat', 'last_lon', 'loc_client')
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('SADD', KEYS[3], client)
local distinct = redis.call('SCARD', KEYS[3])
if redis.call('HSETNX', KEYS[1], 'first_at', at) == 1 and region ~= '' then
  redis.call('HSET', KEYS[1], 'first_region', region)
end
redis.call('HSET', KEYS[1], 'last_at', at)
if lat ~= '' then
  redis.call('HSET', KEYS[1], 'loc_at', at, 'last_lat', lat, 'last_lon', lon, 'loc_client', client)
end
local now = redis.call('HMGET', KEYS[1], 'first_at', 'first_region', 'flags')
return {n, distinct, now[1] or '', now[2] or '', prev[1] or '', prev[2] or '', prev[3] or '',
        prev[4] or '', now[3] or ''}
"""


@dataclass
class CodeState:
    count: int
    clients: int
    first_at: float | None
    first_region: str | None
    previous_at: float | None  # the last located scan before this one
    previous_latitude: float | None
    previous_longitude: float | None
    previous_client: str | None
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
    seed_clients: list[str] = (),
    now: float,
    client: str,
    region: str | None,
    latitude: float | None,
    longitude: float | None,
) -> CodeState | None:
    """Count one scan by `client` and log its entry. `seed` is the code's state in the database
    (and `seed_clients` the clients that scanned it), which Redis takes only if it does not know
    the code yet (a first scan, or a new Redis); without a seed an unknown code answers None and
    nothing is counted or logged."""
    seeds = _pairs({k: v for k, v in seed.items() if v not in (None, "")}) if seed else []
    if seed is not None and not seeds:
        seeds = ["n", 0]
    known_clients = list(seed_clients) if seed is not None else []
    args = [
        len(seeds),
        *seeds,
        len(known_clients),
        *known_clients,
        now,
        region or "",
        "" if latitude is None else latitude,
        "" if longitude is None else longitude,
        client,
        *_pairs(entry),
    ]
    keys = (CODE_KEY.format(code_id), STREAM, CLIENTS_KEY.format(code_id))
    answer = redis_client().eval(_RECORD, 3, *keys, *args)
    if answer is None:
        return None
    count, clients, first_at, first_region, loc_at, loc_lat, loc_lon, loc_client, flags = answer
    return CodeState(
        int(count),
        int(clients),
        _float(first_at),
        _text(first_region),
        _float(loc_at),
        _float(loc_lat),
        _float(loc_lon),
        _text(loc_client),
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
