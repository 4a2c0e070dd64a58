"""Flash-sale claims (秒杀抢购). A claim is one Redis script — the claim rates of the buyer and of
the address, the sale's window, its remaining units, the person's limit, the units per address
and the Idempotency-Key, in one round trip — which also appends the won claim to a Redis stream;
the buyer is answered at once ("抢到了，订单生成中") and polls the claim by its key. A worker
(jobs.live.write_flash_claims, kicked by the script) writes the won claims from the stream in
batches: each becomes a hold plus an order to pay, or is refused for the buyer's holdings limits
and gives its units back.

Every won claim is finished exactly once. The script records it as PENDING in the sale's answers
hash in the same step as the stream entry; its row in flash_claims (unique per sale, buyer and
key) is the one decision, written under the sale's row lock; Redis learns the outcome only from a
script that checks the claim is still PENDING (so a refusal's units come back once). Entries a
dead worker had taken are taken over after STALE_CLAIM_SECONDS, and the minute reconcile and the
sale's end write whatever is still PENDING."""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from dataclasses import dataclass

from redis.exceptions import ResponseError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend import ratelimit
from backend.customers.service import SESSION_CHECK, SessionUnchecked
from backend.errors import DomainError, NotFound, RuleBroken, SoldOut, get_or_404
from backend.inventory import sales as sale_stock
from backend.live import entries
from backend.live.models import FlashClaim, FlashSale
from backend.orders import limits
from backend.orders import service as orders
from backend.orders.schemas import render_order
from backend.queue import enqueue, redis_client
from backend.transactions import lock_row

PENDING, ORDERED, REFUSED = "PENDING", "ORDERED", "REFUSED"
STREAM, GROUP = "heli:flash:claims", "writers"
KICK = "heli:flash:writer-kick"  # set while a writer job is on its way
KICK_SECONDS = 5  # a kick lost with a killed worker is given again after this, by any claim
STALE_CLAIM_SECONDS = 10  # a claim taken by a writer this long ago: its writer died
BATCH = 200  # claims written in one transaction
WRITE_ATTEMPTS = 3  # a batch that deadlocked or lost a serialization race is tried again

# KEYS: 1 sale hash, 2 per-person counts, 3 answers, 4 per-address counts, 5 the stream, 6 the
# writer's kick, 7 the buyer's cached session, 8.. the claim rates' counters. ARGV: 1 now,
# 2 person, 3 quantity, 4 key, 5 address ('' for none: the co-host bot's claims), 6 units per
# address, 7 sale id, 8 the order's address (JSON), 9 KICK_SECONDS, 10 '1' to check the session
# first ('': the caller did), 11.. each rate's limit and window.
# Answers {status, value, kick}: SESSION (MISS or ENDED: nothing was counted), RATE (ms to wait;
# kick is the index of the spent rate), REPLAY
# (the key's claim), NO_SALE, NOT_STARTED, ENDED, OVER_LIMIT (units the person may still take),
# OVER_IP_LIMIT (units the address may still take), SOLD_OUT (units left), OK (units left).
# kick is '1' when a writer must be enqueued: claims wait in the stream and no writer was kicked
# within KICK_SECONDS (so every request, won or refused, revives writing after a writer died).
# A claim is answered "PENDING|quantity|time|address|order address" until written, then
# "ORDERED|quantity|order id" or "REFUSED|quantity|refusal". Units claimed from an address stay
# counted when their order expires unpaid.
CLAIM = (
    ratelimit.SPEND
    + SESSION_CHECK
    + """
if ARGV[10] == '1' then
  local session = session_of(7, ARGV[2], ARGV[1])
  if session ~= 'LIVE' then return {'SESSION', session, ''} end
end
local function kick()
  if redis.call('XLEN', KEYS[5]) == 0 then return '' end
  return redis.call('SET', KEYS[6], '1', 'NX', 'EX', ARGV[9]) and '1' or ''
end
local rate_keys, rate_limits = {}, {}
for i = 8, #KEYS do rate_keys[#rate_keys + 1] = KEYS[i] end
for i = 11, #ARGV do rate_limits[#rate_limits + 1] = ARGV[i] end
local wait, spent = spend(rate_keys, rate_limits)
if wait > 0 then return {'RATE', tostring(wait), tostring(spent)} end
local field = ARGV[2] .. ':' .. ARGV[4]
local answer = redis.call('HGET', KEYS[3], field)
if answer then return {'REPLAY', answer, kick()} end
local sale = redis.call('HMGET', KEYS[1], 'starts', 'ends', 'remaining', 'limit', 'state')
if not sale[1] then return {'NO_SALE', '', kick()} end
local now, quantity = tonumber(ARGV[1]), tonumber(ARGV[3])
if sale[5] ~= 'RUNNING' or now >= tonumber(sale[2]) then return {'ENDED', '', kick()} end
if now < tonumber(sale[1]) then return {'NOT_STARTED', '', kick()} end
local mine, limit = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0'), tonumber(sale[4])
if mine + quantity > limit then return {'OVER_LIMIT', tostring(limit - mine), kick()} end
local address = ARGV[5]
if address ~= '' then
  local taken, most = tonumber(redis.call('HGET', KEYS[4], address) or '0'), tonumber(ARGV[6])
  if taken + quantity > most then return {'OVER_IP_LIMIT', tostring(most - taken), kick()} end
end
local remaining = tonumber(sale[3])
if remaining < quantity then return {'SOLD_OUT', tostring(remaining), kick()} end
redis.call('HINCRBY', KEYS[1], 'remaining', -quantity)
redis.call('HINCRBY', KEYS[2], ARGV[2], quantity)
if address ~= '' then redis.call('HINCRBY', KEYS[4], address, quantity) end
redis.call('HSET', KEYS[3], field,
  'PENDING|' .. ARGV[3] .. '|' .. ARGV[1] .. '|' .. address .. '|' .. ARGV[8])
redis.call('XADD', KEYS[5], '*', 'sale', ARGV[7], 'field', field)
return {'OK', tostring(remaining - quantity), kick()}
"""
)

# A written claim's outcome, once: only a claim still PENDING takes it, and a refusal gives its
# units back to the sale while it runs (after the end they go back to stock with the rest).
# KEYS as CLAIM's first four. ARGV: field, outcome, person, quantity, address, '1' to give back.
FINISH = """
local marker = redis.call('HGET', KEYS[3], ARGV[1])
if not marker or string.sub(marker, 1, 8) ~= 'PENDING|' then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
if ARGV[6] == '1' and redis.call('HGET', KEYS[1], 'state') == 'RUNNING' then
  redis.call('HINCRBY', KEYS[1], 'remaining', tonumber(ARGV[4]))
  redis.call('HINCRBY', KEYS[2], ARGV[3], -tonumber(ARGV[4]))
  if ARGV[5] ~= '' then redis.call('HINCRBY', KEYS[4], ARGV[5], -tonumber(ARGV[4])) end
end
return 1
"""

MESSAGES = {
    PENDING: "抢到了！订单生成中，请稍候查看",
    ORDERED: "抢到了！请在支付时限内完成支付",
}


def keys(sale_id: int) -> list[str]:
    """The sale's hash, per-person counts, answers by "person:key", per-address counts."""
    base = f"heli:flash:{sale_id}"
    return [base, f"{base}:people", f"{base}:answers", f"{base}:addresses"]


@functools.lru_cache(maxsize=16)
def _script(client, source: str):
    return client.register_script(source)  # EVALSHA, loaded again if Redis forgot it


@dataclass
class Claim:
    """A claim as its buyer sees it."""

    status: str  # PENDING (being written), ORDERED or REFUSED
    quantity: int
    order_id: int | None = None
    refusal: dict | None = None  # {"code", "message", "details", "status"}
    created: bool = False  # this request won it (else: the key's earlier claim)


@dataclass
class Pending:
    """A won claim whose order is not written yet."""

    field: str  # "person:key" in the answers hash
    customer_id: int
    idempotency_key: str
    quantity: int
    claimed_at: float
    ip: str
    address: dict


def _parse(field: str, marker: str) -> Claim | Pending:
    status, quantity, rest = (marker.split("|", 2) + ["", ""])[:3]
    if status == PENDING:
        claimed_at, ip, address = rest.split("|", 2)
        customer_id, key = field.split(":", 1)
        return Pending(
            field, int(customer_id), key, int(quantity), float(claimed_at), ip, json.loads(address)
        )
    if status == ORDERED:
        return Claim(ORDERED, int(quantity), order_id=int(rest))
    return Claim(REFUSED, int(quantity), refusal=json.loads(rest))


def _outcome(row: FlashClaim) -> Claim:
    if row.order_id is not None:
        return Claim(ORDERED, row.quantity, order_id=row.order_id)
    return Claim(REFUSED, row.quantity, refusal=row.refusal)


def sale_or_404(session: Session, sale_id: int) -> FlashSale:
    return get_or_404(session, FlashSale, sale_id, "秒杀活动不存在", code="FLASH_SALE_NOT_FOUND")


def claim(
    session: Session,
    *,
    sale_id: int,
    customer_id: int,
    quantity: int,
    idempotency_key: str,
    address: dict | None = None,
    ip: str | None = None,
    session_key: str | None = None,
) -> Claim:
    """Race for units: a new PENDING claim (its order is written by a worker) or a clear
    refusal, decided in one Redis round trip — with the buyer's session checked in it when
    `session_key` is given (SessionUnchecked if it is not live in the cache). A repeated key
    answers the first claim (created False). 429 past the claim rates of the account and of `ip`
    (the request's address; None for the co-host bot), 422 past the person's limit or the units
    one address may claim of the sale; the holdings limits (409) are the writer's to apply."""
    rates = limits.claim_rates(customer_id=customer_id, ip=ip)
    redis = redis_client()
    status, value, kick = (
        part.decode()
        for part in _script(redis, CLAIM)(
            keys=[*keys(sale_id), STREAM, KICK, session_key or "", *rates.keys],
            args=[
                time.time(),
                customer_id,
                quantity,
                idempotency_key,
                ip or "",
                limits.claims_per_ip_per_sale(),
                sale_id,
                json.dumps(address or {}, ensure_ascii=False, separators=(",", ":")),
                KICK_SECONDS,
                "1" if session_key else "",
                *rates.limits,
            ],
        )
    )
    if status == "SESSION":
        raise SessionUnchecked(value)
    if status == "RATE":
        rates.check(int(value), int(kick))
    if kick:
        enqueue("jobs.live.write_flash_claims")
    if status == "REPLAY":
        found = _parse(f"{customer_id}:{idempotency_key}", value)
        return Claim(PENDING, found.quantity) if isinstance(found, Pending) else found
    if status != "OK":
        _refuse(session, sale_id, status, value)
    return Claim(PENDING, quantity, created=True)


def _refuse(session: Session, sale_id: int, status: str, value: str) -> None:
    if status == "NO_SALE":
        sale_or_404(session, sale_id)  # NotFound for unknown sales
        raise RuleBroken("秒杀已结束", code="FLASH_SALE_ENDED")
    if status == "NOT_STARTED":
        raise RuleBroken("秒杀还未开始", code="FLASH_SALE_NOT_STARTED")
    if status == "ENDED":
        raise RuleBroken("秒杀已结束", code="FLASH_SALE_ENDED")
    if status == "OVER_LIMIT":
        raise RuleBroken(
            f"每人限购，您最多还能抢 {max(int(value), 0)} 份",
            code="OVER_PERSON_LIMIT",
            details={"left_for_you": max(int(value), 0)},
        )
    if status == "OVER_IP_LIMIT":
        most = limits.claims_per_ip_per_sale()
        raise RuleBroken(
            f"同一网络本场秒杀最多抢 {most} 份，当前网络还能抢 {max(int(value), 0)} 份",
            code="OVER_IP_LIMIT",
            details={"left_for_address": max(int(value), 0), "limit": most},
        )
    raise SoldOut("手慢了，已抢光", details={"remaining": max(0, int(value))})


def claim_status(
    session: Session, *, sale_id: int, customer_id: int, idempotency_key: str
) -> Claim:
    """The buyer's claim under this key: still being written, its order, or why it has none. A
    buyer still waiting kicks a writer (once in KICK_SECONDS), in case the last one died."""
    marker = redis_client().hget(keys(sale_id)[2], f"{customer_id}:{idempotency_key}")
    if marker is not None:
        found = _parse(f"{customer_id}:{idempotency_key}", marker.decode())
        if not isinstance(found, Pending):
            return found
        if redis_client().set(KICK, "1", nx=True, ex=KICK_SECONDS):
            enqueue("jobs.live.write_flash_claims")
        return Claim(PENDING, found.quantity)
    row = session.scalar(
        select(FlashClaim).where(
            FlashClaim.flash_sale_id == sale_id,
            FlashClaim.customer_id == customer_id,
            FlashClaim.idempotency_key == idempotency_key,
        )
    )
    if row is None:
        raise NotFound("没有找到这次抢购", code="CLAIM_NOT_FOUND")
    return _outcome(row)


def claim_view(session: Session, claim: Claim, *, customer_id: int) -> dict:
    """What the buyer is shown: the status in words, and the order once it is written."""
    refusal = claim.refusal or {}
    order = None
    if claim.order_id is not None:
        order = render_order(
            orders.get_order(session, customer_id=customer_id, order_id=claim.order_id)
        )
    return {
        "status": claim.status,
        "message": refusal.get("message") or MESSAGES[claim.status],
        "code": refusal.get("code"),
        "quantity": claim.quantity,
        "order": order,
    }


def claim_order_now(
    session: Session, *, sale_id: int, customer_id: int, quantity: int, idempotency_key: str
):
    """The co-host bot's claim: the same race, and its order written at once by the same writer
    (the stream's copy then finds it done); answers (order, created) or raises the refusal."""
    won = claim(
        session,
        sale_id=sale_id,
        customer_id=customer_id,
        quantity=quantity,
        idempotency_key=idempotency_key,
    )
    field = f"{customer_id}:{idempotency_key}"
    if won.status == PENDING:
        found = _parse(field, redis_client().hget(keys(sale_id)[2], field).decode())
        if isinstance(found, Pending):
            found = write_claims(session, sale_id=sale_id, claims=[found])[field]
        won = Claim(found.status, found.quantity, found.order_id, found.refusal, won.created)
    if won.status == REFUSED:
        refusal = won.refusal
        raise DomainError(
            refusal["message"],
            code=refusal["code"],
            details=refusal.get("details"),
            status=refusal.get("status", 409),
        )
    return orders.get_order(session, customer_id=customer_id, order_id=won.order_id), won.created


def write_claims(session: Session, *, sale_id: int, claims: list[Pending]) -> dict[str, Claim]:
    """Decide won claims of one sale, each once: its order (a hold moved from the sale) or the
    refusal of the buyer's holdings limits. Under the sale's row lock, so writers, the sale's
    end and its reconcile take turns; commits, then tells Redis. Answers each claim's outcome by
    its field."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            outcomes = _decide(session, sale_id, claims)
            session.commit()
            break
        except OperationalError:  # a deadlock or a serialization failure: all of it again
            session.rollback()
            if attempt == WRITE_ATTEMPTS - 1:
                raise
    sale_keys, redis = keys(sale_id), redis_client()
    finish = _script(redis, FINISH)
    with redis.pipeline(transaction=False) as pipe:
        for pending in claims:
            outcome = outcomes[pending.field]
            if outcome.status == ORDERED:
                marker, give_back = f"{ORDERED}|{outcome.quantity}|{outcome.order_id}", ""
            else:
                refusal = json.dumps(outcome.refusal, ensure_ascii=False, separators=(",", ":"))
                marker, give_back = f"{REFUSED}|{outcome.quantity}|{refusal}", "1"
            finish(
                keys=sale_keys,
                args=[
                    pending.field,
                    marker,
                    pending.customer_id,
                    pending.quantity,
                    pending.ip,
                    give_back,
                ],
                client=pipe,
            )
        pipe.execute()
    return outcomes


def _decide(session: Session, sale_id: int, claims: list[Pending]) -> dict[str, Claim]:
    lock_row(session, FlashSale, sale_id)
    sale = session.get(FlashSale, sale_id, populate_existing=True)
    rows = {
        (row.customer_id, row.idempotency_key): row
        for row in session.scalars(
            select(FlashClaim).where(
                FlashClaim.flash_sale_id == sale_id,
                FlashClaim.idempotency_key.in_({c.idempotency_key for c in claims}),
            )
        )
    }
    sharers = (
        entries.sharers_of(
            session, room_id=sale.room_id, customer_ids={c.customer_id for c in claims}
        )
        if sale.room_id
        else {}
    )
    outcomes = {}
    for pending in claims:
        who = (pending.customer_id, pending.idempotency_key)
        if who not in rows:
            rows[who] = _write(session, sale, pending, sharers.get(pending.customer_id))
        outcomes[pending.field] = _outcome(rows[who])
    return outcomes


def _write(session: Session, sale: FlashSale, pending: Pending, sharer: str | None) -> FlashClaim:
    row = FlashClaim(
        flash_sale_id=sale.id,
        customer_id=pending.customer_id,
        idempotency_key=pending.idempotency_key,
        quantity=pending.quantity,
    )
    try:
        with session.begin_nested():
            order = orders.create_flash_order(
                session,
                customer_id=pending.customer_id,
                sku_id=sale.sku_id,
                quantity=pending.quantity,
                price=sale.price,
                pay_minutes=sale.pay_minutes,
                flash_sale_id=sale.id,
                address=pending.address,
                live_room_id=sale.room_id,
                sharer=sharer,
            )
            sale_stock.sale_to_order(
                session, flash_sale_id=sale.id, order_id=order.id, quantity=pending.quantity
            )
            row.order_id = order.id
            session.add(row)
            session.flush()
    except DomainError as refused:  # holdings limits; or stock a lot's expiry took meanwhile
        row = FlashClaim(
            flash_sale_id=sale.id,
            customer_id=pending.customer_id,
            idempotency_key=pending.idempotency_key,
            quantity=pending.quantity,
            refusal={**refused.to_dict(), "status": refused.status},
        )
        session.add(row)
        session.flush()
    return row


def pending_claims(sale_id: int) -> list[Pending]:
    """The sale's won claims not written yet."""
    return _pending_in(redis_client().hgetall(keys(sale_id)[2]))


def redis_state(sale_id: int) -> tuple[int, list[Pending]]:
    """The sale's remaining units and its claims not written yet, read at one moment."""
    sale_keys = keys(sale_id)
    with redis_client().pipeline(transaction=True) as pipe:
        remaining, answers = pipe.hget(sale_keys[0], "remaining").hgetall(sale_keys[2]).execute()
    return int(remaining or 0), _pending_in(answers)


def _pending_in(answers: dict) -> list[Pending]:
    return [
        _parse(field.decode(), marker.decode())
        for field, marker in answers.items()
        if marker.startswith(b"PENDING|")
    ]


def written(session: Session, sale_id: int, claims: list[Pending]) -> set[str]:
    """The fields of those claims whose units the database already moved to an order."""
    if not claims:
        return set()
    fields = {(c.customer_id, c.idempotency_key): c.field for c in claims}
    rows = session.execute(
        select(FlashClaim.customer_id, FlashClaim.idempotency_key).where(
            FlashClaim.flash_sale_id == sale_id,
            FlashClaim.order_id.is_not(None),
            FlashClaim.idempotency_key.in_({c.idempotency_key for c in claims}),
        )
    )
    return {fields[who] for who in rows if tuple(who) in fields}


def settle_pending(session: Session, *, sale_id: int, older_than: float = 0) -> int:
    """Write the sale's claims still PENDING after `older_than` seconds (all of them at the
    sale's end): what no writer finished. Answers how many."""
    now = time.time()
    late = [c for c in pending_claims(sale_id) if now - c.claimed_at >= older_than]
    for start in range(0, len(late), BATCH):
        write_claims(session, sale_id=sale_id, claims=late[start : start + BATCH])
    return len(late)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def write_from_stream(session: Session, *, consumer: str, seconds: float) -> bool:
    """Write the claims waiting in the stream, a batch at a time (first those a dead writer had
    taken), until none is left (True) or `seconds` have passed (False: the caller goes on
    later). Entries another writer holds are waited for until they are written or stale."""
    redis = redis_client()
    try:
        redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exists:
        if "BUSYGROUP" not in str(exists):
            raise
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        entries = _take(redis, consumer)
        if not entries:
            redis.delete(KICK)  # from now on a new claim enqueues a writer again
            entries = _take(redis, consumer)  # one that came before the kick was cleared
        if entries:
            _write_entries(session, redis, entries)
        elif not redis.xpending(STREAM, GROUP)["pending"]:
            return True
        else:  # another writer's: written soon, or stale once it died
            time.sleep(0.2)
    return False


def _take(redis, consumer: str) -> list:
    taken = redis.xautoclaim(
        STREAM, GROUP, consumer, STALE_CLAIM_SECONDS * 1000, start_id="0-0", count=BATCH
    )[1]
    if taken:
        return taken
    fresh = redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=BATCH)
    return fresh[0][1] if fresh else []


def _write_entries(session: Session, redis, entries: list) -> None:
    by_sale: dict[int, list[str]] = {}
    for _, fields in entries:
        if fields:  # (an entry deleted meanwhile comes back empty)
            by_sale.setdefault(int(fields[b"sale"]), []).append(fields[b"field"].decode())
    for sale_id, fields in sorted(by_sale.items()):
        markers = redis.hmget(keys(sale_id)[2], fields)
        claims = [
            found
            for field, marker in zip(fields, markers, strict=True)
            if marker is not None and isinstance(found := _parse(field, marker.decode()), Pending)
        ]
        if claims:
            write_claims(session, sale_id=sale_id, claims=claims)
    ids = [entry_id for entry_id, _ in entries]
    with redis.pipeline(transaction=False) as pipe:
        pipe.xack(STREAM, GROUP, *ids)
        pipe.xdel(STREAM, *ids)
        pipe.execute()
