"""Scans are counted in Redis and logged to a Redis stream at request time; a job moves the log
into the database in batches. A scan thus costs one Redis round trip (its rate limits counted
in the same script) instead of a database write, and thousands of people can scan at once (a
live show, a market day).

Per code, under its normalised spelling, a hash keeps what a scan needs: the code's ids (code,
lot, print run), the scan count, the first scan's time and region, the last located scan's time,
place and client, and the reasons it was flagged; and a set keeps the distinct clients (hashed
networks) that scanned it, so one holder scanning again and again counts once. Any process
answers a code Redis knows without asking the database; one Redis does not know yet (its first
scan, or a new Redis) starts from its row and state in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend import ratelimit
from backend.batches.service import RECORDS_VERSION_KEY
from backend.queue import redis_client, run_script

NO_RATES = ratelimit.Windows((), (), ())

STREAM = "heli:trace:scans"
FLAG_STREAM = "heli:trace:flags"
CODE_KEY = "heli:trace:code:{}"  # by the normalised code
CLIENTS_KEY = "heli:trace:code:{}:clients"

# KEYS: the scan's rate counters (ARGV[1] of them), then the code hash, the scan log, the code's
# set of clients and the version of the processing records (batches.RECORDS_VERSION_KEY).
# ARGV[1] = how many rate counters, then each one's limit and window in ms (ratelimit.SPEND);
# then how many seed values follow, then those field/value pairs (the code's ids and state in
# the database, used only when Redis does not know the code yet); then how many seed clients
# follow, then those; then the code, now, region, lat, lon ("" when unknown) and client.
# A spent rate answers {'refused', ms to wait, which} and counts nothing. Else the rates count
# one, and when Redis does not know the code and no seed came it answers {'unknown'}, counting
# and logging nothing more. Else it logs the scan and answers the code's ids and its state after
# this scan together with the last located scan before it: {'ok', id, lot, run, n, clients,
# first_at, first_region, loc_at, loc_lat, loc_lon, loc_client, flags, records version, sold}.
# The first region is the first scan's own region (set with first_at, never later): a later
# scan cannot name where the code was first seen. One round trip a scan, limits included.
_RECORD = (
    ratelimit.SPEND
    + """
local rates = tonumber(ARGV[1])
if rates > 0 then
  local wait, spent = spend({unpack(KEYS, 1, rates)}, {unpack(ARGV, 2, 1 + 2 * rates)})
  if wait > 0 then return {'refused', wait, spent} end
end
local code, log, known, records = KEYS[rates + 1], KEYS[rates + 2], KEYS[rates + 3], KEYS[rates + 4]
local o = 1 + 2 * rates
local seeds = tonumber(ARGV[o + 1])
local clients = tonumber(ARGV[o + 2 + seeds])
local base = o + 2 + seeds + clients
if redis.call('EXISTS', code) == 0 then
  if seeds == 0 then return {'unknown'} end
  redis.call('HSET', code, unpack(ARGV, o + 2, o + 1 + seeds))
  redis.call('DEL', known)
  if clients > 0 then redis.call('SADD', known, unpack(ARGV, o + 3 + seeds, base)) end
end
local raw, at, region, lat, lon, client =
  ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4], ARGV[base + 5], ARGV[base + 6]
local ids = redis.call('HMGET', code, 'id', 'lot', 'run')
redis.call('XADD', log, '*', 'code_id', ids[1], 'raw_code', raw, 'at', at, 'ip_hash', client,
           'lat', lat, 'lon', lon, 'region', region)
local prev = redis.call('HMGET', code, 'loc_at', 'last_lat', 'last_lon', 'loc_client')
local n = redis.call('HINCRBY', code, 'n', 1)
redis.call('SADD', known, client)
local distinct = redis.call('SCARD', known)
if redis.call('HSETNX', code, 'first_at', at) == 1 and region ~= '' then
  redis.call('HSET', code, 'first_region', region)
end
redis.call('HSET', code, 'last_at', at)
if lat ~= '' then
  redis.call('HSET', code, 'loc_at', at, 'last_lat', lat, 'last_lon', lon, 'loc_client', client)
end
local now = redis.call('HMGET', code, 'first_at', 'first_region', 'flags', 'sold')
return {'ok', ids[1], ids[2], ids[3], n, distinct, now[1] or '', now[2] or '', prev[1] or '',
        prev[2] or '', prev[3] or '', prev[4] or '', now[3] or '', redis.call('GET', records) or '',
        now[4] or ''}
"""
)


@dataclass
class CodeState:
    code_id: int
    lot_id: int
    print_run_id: int
    count: int
    clients: int
    first_at: float | None
    first_region: str | None
    previous_at: float | None  # the last located scan before this one
    previous_latitude: float | None
    previous_longitude: float | None
    previous_client: str | None
    flags: set[str]
    records_version: str  # of the processing records (batches.RECORDS_VERSION_KEY) at this scan
    sold_at: float | None = None  # when its parcel left the warehouse


def _float(value: bytes | str) -> float | None:
    return float(value) if value not in (b"", "") else None


def _text(value: bytes | str) -> str | None:
    text = value.decode() if isinstance(value, bytes) else value
    return text or None


def _pairs(entry: dict) -> list:
    return [item for key, value in entry.items() for item in (key, "" if value is None else value)]


def record(
    code: str,
    *,
    rates: ratelimit.Windows = NO_RATES,
    seed: dict | None = None,
    seed_clients: list[str] = (),
    now: float,
    client: str,
    region: str | None,
    latitude: float | None,
    longitude: float | None,
) -> CodeState | None:
    """Count one scan of a (normalised) code by `client` against `rates` (TooManyRequests when
    one is spent: nothing is counted) and log it. `seed` is the code's ids and state in the
    database ("id", "lot", "run", then the fields of the hash; `seed_clients` the clients that
    scanned it), which Redis takes only if it does not know the code yet (a first scan, or a new
    Redis); without a seed an unknown code answers None, having counted the rates but no scan."""
    seeds = _pairs({k: v for k, v in seed.items() if v not in (None, "")}) if seed else []
    known_clients = list(seed_clients) if seed is not None else []
    args = [
        len(rates.keys),
        *rates.limits,
        len(seeds),
        *seeds,
        len(known_clients),
        *known_clients,
        code,
        now,
        region or "",
        "" if latitude is None else latitude,
        "" if longitude is None else longitude,
        client,
    ]
    keys = (
        *rates.keys,
        CODE_KEY.format(code),
        STREAM,
        CLIENTS_KEY.format(code),
        RECORDS_VERSION_KEY,
    )
    status, *answer = run_script(_RECORD, keys, args)
    if status == b"refused":
        rates.check(int(answer[0]), int(answer[1]))
    if status == b"unknown":
        return None
    code_id, lot_id, run_id, count, clients, first_at, first_region, *rest = answer
    loc_at, loc_lat, loc_lon, loc_client, flags, records, sold = rest
    return CodeState(
        int(code_id),
        int(lot_id),
        int(run_id),
        int(count),
        int(clients),
        _float(first_at),
        _text(first_region),
        _float(loc_at),
        _float(loc_lat),
        _float(loc_lon),
        _text(loc_client),
        set(filter(None, (_text(flags) or "").split(","))),
        _text(records) or "",
        _float(sold),
    )


_MARK_SOLD = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'sold', ARGV[1]) end"
)


def mark_sold(codes: list[str], at: float) -> None:
    """Remember that these (normalised) codes left the warehouse on a parcel, for the codes
    Redis knows already (the others take it from the database with their first scan)."""
    pipe = redis_client().pipeline(transaction=False)
    for code in codes:
        pipe.eval(
            _MARK_SOLD,
            1,
            CODE_KEY.format(code),
            at,
        )
    pipe.execute()


def add_flags(code: str, flags: set[str], raised: list[dict]) -> None:
    """Remember a code's flags, and log the ones this scan raised for the database."""
    pipe = redis_client().pipeline()
    pipe.hset(CODE_KEY.format(code), "flags", ",".join(sorted(flags)))
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
