"""The co-host bot: reads every live room's comment stream through a Redis consumer group (a
restart resumes where it stopped; a comment is handled once), answers questions from live
data, turns buying comments into holds with a pay prompt, hides spam and mutes repeat
offenders, announces sale starts, countdowns, low stock and sold out, and writes the host's
summary when a show ends.

A comment that makes the handler raise is logged, kept in a dead-letter stream and skipped;
one that keeps killing the process is skipped after MAX_DELIVERIES attempts."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field

from flask import Flask
from redis.exceptions import ResponseError
from sqlalchemy import select

from backend import requestid
from backend.adoption import live_offers
from backend.errors import DomainError, SoldOut
from backend.extensions import db
from backend.live import claims, comments, moderation, shelf, summary
from backend.live.models import ABNORMAL, LIVE, PAUSED, LiveRoom
from bots.cohost import adoption, answers
from bots.cohost.announcements import ScheduledMessages
from bots.cohost.understanding import Claim, Reading, ShelfItem, normalise, read_comment, warm_up

log = logging.getLogger("heli.bot")

GROUP = "cohost"
READ_COUNT = 200
MAX_DELIVERIES = 3
ROOMS_EVERY = 1.0  # seconds between looks at which rooms are live
FACTS_TTL = 1.0  # the live facts a reply quotes are at most this old
ANNOUNCE_EVERY = 0.5
RECOVER_EVERY = 30.0
RECOVER_IDLE_MS = 30_000  # a pending comment idle this long belonged to a dead bot
COUNTDOWN_AT = (60, 30, 10)
WATCHED_STATUSES = (LIVE, PAUSED, ABNORMAL)
CONFIRM_RE = re.compile(
    r"(?:确认|确定|是的|对的?|没错|嗯嗯?|要的|yes|ok)(?:要|了|的|啊|呀)?[!.~ ]*"
)


def dead_letter_key(room_id: int) -> str:
    return f"heli:live:room:{room_id}:bot:dead"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Said:
    """A viewer's comment as the bot read it."""

    entry_id: str
    customer_id: int
    nickname: str
    text: str
    reading: Reading
    may_confirm: bool  # it reads like "确认": a claim, if the bot asked this viewer about one


@dataclass
class RoomFacts:
    facts: dict
    shelf: list[ShelfItem]
    read_at: float = field(default_factory=time.monotonic)
    adoption_offer_id: int | None = None  # the adoption offer on screen (认养上屏)


class CoHost:
    def __init__(self, app: Flask, consumer: str):
        self.app = app
        self.consumer = consumer
        self.redis = app.extensions["heli_redis"]
        self.rooms: set[int] = set()
        self._facts: dict[int, RoomFacts] = {}
        self._next = {"rooms": 0.0, "announce": 0.0, "recover": 0.0}
        self.handled = 0
        self.scheduled = ScheduledMessages()  # the host's 自动发言

    def due_now(self) -> None:
        """Make the next step read fresh facts and look at rooms, pending work and
        announcements straight away."""
        self._next = dict.fromkeys(self._next, 0.0)
        self._facts.clear()
        self.scheduled.due_now()

    # -- the loop -------------------------------------------------------------------------
    def run(self, should_stop=lambda: False) -> None:
        warm_up()
        with self.app.app_context():
            while not should_stop():
                try:
                    self.step()
                except Exception:  # Redis or the database briefly away: wait, then go on
                    log.exception("co-host step failed")
                    db.session.rollback()
                    time.sleep(1)
                finally:
                    db.session.remove()

    def step(self, block_ms: int = 200) -> int:
        """One round: rooms, pending work, new comments, announcements. Answers how many
        comments it handled. Needs an app context."""
        now = time.monotonic()
        if now >= self._next["rooms"]:
            self._next["rooms"] = now + ROOMS_EVERY
            self._refresh_rooms()
        if now >= self._next["recover"]:
            self._next["recover"] = now + RECOVER_EVERY
            self._recover()
        handled = self._read_new(block_ms)
        if time.monotonic() >= self._next["announce"]:
            self._next["announce"] = time.monotonic() + ANNOUNCE_EVERY
            for room_id in sorted(self.rooms):
                self._announce(room_id)
        return handled

    def _refresh_rooms(self) -> None:
        watched = set(
            db.session.scalars(
                select(LiveRoom.id).where(LiveRoom.live_status.in_(WATCHED_STATUSES))
            )
        )
        for room_id in watched - self.rooms:
            try:  # from the start of the stream: comments made before the bot came count too
                self.redis.xgroup_create(comments.stream_key(room_id), GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        for room_id in self.rooms - watched:
            self._facts.pop(room_id, None)  # its facts now say it ended
            self._drain(room_id)
            summary.summarise_finished(db.session)
        self.rooms = watched

    def _drain(self, room_id: int) -> None:
        """A room that just ended: handle what was still unread (claims are refused now)."""
        self._read({comments.stream_key(room_id): ">"}, block_ms=None)

    def _read_new(self, block_ms: int) -> int:
        if not self.rooms:
            time.sleep(block_ms / 1000)
            return 0
        streams = {comments.stream_key(room_id): ">" for room_id in sorted(self.rooms)}
        return self._read(streams, block_ms)

    def _read(self, streams: dict[str, str], block_ms: int | None) -> int:
        batches = self.redis.xreadgroup(
            GROUP, self.consumer, streams, count=READ_COUNT, block=block_ms
        )
        handled = 0
        for stream, entries in batches or []:
            if entries:
                room_id = int(stream.decode().split(":")[3])
                self.handle_batch(room_id, entries, acknowledge=True)
                handled += len(entries)
        self.handled += handled
        return handled

    def _recover(self) -> None:
        """Comments delivered to a bot that died before acknowledging them: take them over
        and handle them again (idempotent), unless they already failed MAX_DELIVERIES times."""
        for room_id in sorted(self.rooms):
            stream = comments.stream_key(room_id)
            pending = self.redis.xpending_range(stream, GROUP, min="-", max="+", count=500)
            for entry in pending:
                entry_id = entry["message_id"]
                mine = entry["consumer"].decode() == self.consumer
                if not mine and entry["time_since_delivered"] < RECOVER_IDLE_MS:
                    continue  # another bot is working on it
                if entry["times_delivered"] >= MAX_DELIVERIES:
                    self._dead_letter(room_id, entry_id.decode(), "投递多次仍未处理完")
                    self.redis.xack(stream, GROUP, entry_id)
                    continue
                claimed = self.redis.xclaim(
                    stream, GROUP, self.consumer, min_idle_time=0, message_ids=[entry_id]
                )
                if claimed:
                    self.handle_batch(room_id, claimed, acknowledge=True)

    def _dead_letter(self, room_id: int, entry_id: str, error: str, pipe=None) -> None:
        (pipe or self.redis).xadd(
            dead_letter_key(room_id),
            {"entry_id": entry_id, "error": error[:300]},
            maxlen=1000,
            approximate=True,
        )

    # -- comments -------------------------------------------------------------------------
    def handle(self, room_id: int, entry_id: str, fields: dict) -> None:
        """One comment, not acknowledged (a bot that dies now leaves it to be taken over)."""
        self.handle_batch(room_id, [(entry_id, fields)], acknowledge=False)

    def handle_batch(self, room_id: int, entries: list, *, acknowledge: bool) -> None:
        """One batch under a request id of its own (on its log lines and the jobs it enqueues)."""
        with requestid.bound(requestid.new()):
            self._handle_batch(room_id, entries, acknowledge=acknowledge)

    def _handle_batch(self, room_id: int, entries: list, *, acknowledge: bool) -> None:
        """Comments of one room as read from its stream, each read and answered in turn: one
        round trip for their spam counters, and one transaction at the end for every reply,
        count and the acknowledgement. A crash before that transaction leaves the batch
        unacknowledged and unanswered; handled again, a claim still holds once.

        A comment that makes the handler raise is logged, kept in the dead-letter stream and
        skipped; the others go on."""
        pipe = self.redis.pipeline(transaction=True)
        said = []
        for entry_id, raw in entries:
            entry_id = _text(entry_id)
            try:
                fields = {_text(key): _text(value) for key, value in raw.items()}
                if fields.get("bot") != "1":
                    said.append(self._read_comment(room_id, entry_id, fields))
            except Exception as exc:
                self._failed(pipe, room_id, entry_id, exc)
        live = self.facts(room_id).facts["live_status"] in (LIVE, PAUSED)
        said_by = [(c.customer_id, c.text, c.reading.claim or c.may_confirm) for c in said]
        spam = moderation.spam_reasons(room_id, said_by) if live else [None] * len(said)
        for comment, reason in zip(said, spam, strict=True):
            try:
                if live:
                    self._answer(pipe, room_id, comment, reason)
                else:  # the show is over: counted only
                    summary.record_comment(
                        pipe,
                        room_id,
                        customer_id=comment.customer_id,
                        text=comment.text,
                        questions=[],
                        unanswered=False,
                    )
            except Exception as exc:
                self._failed(pipe, room_id, comment.entry_id, exc)
        if acknowledge:
            pipe.xack(comments.stream_key(room_id), GROUP, *[entry for entry, _ in entries])
        pipe.execute()

    def _failed(self, pipe, room_id: int, entry_id: str, exc: Exception) -> None:
        db.session.rollback()
        log.exception("comment %s in room %s could not be handled", entry_id, room_id)
        self._dead_letter(room_id, entry_id, f"{type(exc).__name__}: {exc}", pipe)
        pipe.hincrby(f"heli:live:room:{room_id}:bot:stats", "failed", 1)

    def _read_comment(self, room_id: int, entry_id: str, fields: dict) -> Said:
        customer_id, text = int(fields["customer_id"]), fields["text"]
        return Said(
            entry_id=entry_id,
            customer_id=customer_id,
            nickname=fields.get("nickname") or "朋友",
            text=text,
            reading=read_comment(text, self.facts(room_id).shelf),
            may_confirm=CONFIRM_RE.fullmatch(normalise(text)) is not None,
        )

    def _answer(self, pipe, room_id: int, comment: Said, spam: str | None) -> None:
        reading, customer_id, nickname = comment.reading, comment.customer_id, comment.nickname
        confirmed = self._confirmed(room_id, customer_id) if comment.may_confirm else None
        if confirmed is not None:
            reading = Reading(intents=("claim",), claim=confirmed)
        known = self.facts(room_id)
        adopting = not spam and adoption.wants_adoption(
            comment.text, reading, known.facts, known.adoption_offer_id
        )
        if adopting:  # a claim on the adoption offer on screen, not on a product
            reading = Reading(intents=("claim",), claim=Claim(number=None, quantity=1))
        questions = [] if spam else [i for i in reading.intents if i != "claim"]
        sentences, unanswered, reply, private = [], False, {}, None
        if spam:
            self._moderate(pipe, room_id, comment, spam)
        else:
            number = (
                reading.claim.number if reading.claim else answers.mentioned_number(comment.text)
            )
            sentences, unanswered = answers.answer_questions(
                questions, self.facts(room_id).facts, self.app.config, number=number
            )
            reply = {"reply_to": comment.entry_id, "to_customer_id": customer_id}
            if adopting:
                said, extra = self._adopt(pipe, room_id, comment)
                private = extra.pop("private", None)
                sentences.insert(0, said)
                reply.update(extra)
            elif reading.claim or reading.unsure:
                said, extra = self._claim(pipe, room_id, comment, reading, confirmed)
                private = extra.pop("private", None)
                sentences.insert(0, said)
                reply.update(extra)
            elif unanswered and not sentences:
                sentences.append("这个问题已记下，稍后请主播为您解答")
        summary.record_comment(
            pipe,
            room_id,
            customer_id=customer_id,
            text=comment.text,
            questions=questions,
            unanswered=unanswered,
        )
        if sentences and not reading.claim:
            summary.count(pipe, room_id, "answered")
        if sentences:
            if private:  # the buyer alone reads the order's number and total
                reply["private_text"] = answers.addressed(nickname, [private, *sentences[1:]])
            comments.queue_reply(pipe, room_id, answers.addressed(nickname, sentences), **reply)

    def _confirm_key(self, room_id: int, customer_id: int) -> str:
        return f"heli:live:room:{room_id}:bot:confirm:{customer_id}"

    def _confirmed(self, room_id: int, customer_id: int) -> Claim | None:
        """The claim this viewer was asked to confirm, taken once."""
        pending = self.redis.getdel(self._confirm_key(room_id, customer_id))
        if pending is None:
            return None
        number, quantity = json.loads(pending)
        return Claim(number=number, quantity=quantity)

    def _needs_confirming(self, item: dict, quantity: int) -> bool:
        sale = item.get("flash_sale")
        limit = sale["per_person_limit"] if sale else None
        return quantity > self.app.config["LIVE_CONFIRM_ABOVE"] or (
            limit is not None and quantity > limit
        )

    def _claim(
        self, pipe, room_id: int, comment: Said, reading: Reading, confirmed: Claim | None
    ) -> tuple[str, dict]:
        """Hold the claimed units, or ask the viewer to confirm a claim read unsure or an
        unusual quantity; answers what to say and the reply's extra fields."""
        claim = reading.claim or reading.unsure
        item = answers.pick_item(self.facts(room_id).facts, claim.number)
        stats = f"heli:live:room:{room_id}:bot:stats"
        pipe.hincrby(stats, "claims", 1)
        if item is None:
            pipe.hincrby(stats, "refused", 1)
            if claim.number is None:
                return "请写明商品编号，例如“3号要2份”", {}
            return f"没有{claim.number}号商品哦，请看屏幕上的编号", {}
        if confirmed is None and (
            reading.claim is None or self._needs_confirming(item, claim.quantity)
        ):
            self.redis.set(  # at once: the viewer's "确认" may be in this very batch
                self._confirm_key(room_id, comment.customer_id),
                json.dumps([item["number"], claim.quantity]),
                ex=self.app.config["LIVE_CONFIRM_SECONDS"],
            )
            pipe.hincrby(stats, "asked_to_confirm", 1)
            return answers.confirm_quantity(item, claim.quantity), {}
        try:
            held = claims.claim_from_comment(
                db.session,
                room_id=room_id,
                comment_id=comment.entry_id,
                customer_id=comment.customer_id,
                number=item["number"],
                quantity=claim.quantity,
            )
        except SoldOut:
            pipe.hincrby(stats, "refused", 1)
            return f"手慢了，{answers.title(item)}已抢光", {}
        except DomainError as refusal:
            pipe.hincrby(stats, "refused", 1)
            return refusal.message, {}
        order, again = held.order, not held.created
        return answers.pay_prompt_in_room(item, claim.quantity, order, again=again), {
            "kind": "pay_prompt",
            "order_id": order.id,
            "total": order.total,
            "private": answers.pay_prompt(item, claim.quantity, order, again=again),
        }

    def _adopt(self, pipe, room_id: int, comment: Said) -> tuple[str, dict]:
        """Hold a unit of the adoption offer on screen for the viewer."""
        stats = f"heli:live:room:{room_id}:bot:stats"
        pipe.hincrby(stats, "claims", 1)
        said, extra = adoption.hold(
            db.session,
            room_id=room_id,
            comment_id=comment.entry_id,
            customer_id=comment.customer_id,
            text=comment.text,
        )
        if extra.pop("refused", False):
            pipe.hincrby(stats, "refused", 1)
        return said, extra

    def _moderate(self, pipe, room_id: int, comment: Said, reason: str) -> None:
        moderation.hide(room_id, comment.entry_id, pipe=pipe)
        pipe.hincrby(f"heli:live:room:{room_id}:bot:stats", "spam", 1)
        if moderation.record_offence(
            db.session, room_id=room_id, customer_id=comment.customer_id, reason=reason
        ):
            comments.queue_reply(
                pipe,
                room_id,
                f"@{comment.nickname} 多次{reason}，已被禁言",
                kind="moderation",
                to_customer_id=comment.customer_id,
            )

    # -- live facts and announcements -----------------------------------------------------
    def facts(self, room_id: int) -> RoomFacts:
        cached = self._facts.get(room_id)
        if cached is None or time.monotonic() - cached.read_at > FACTS_TTL:
            facts = shelf.room_facts(db.session, room_id)
            offer = live_offers.current_offer(db.session, room_id)
            db.session.commit()  # end the read so the next one sees new stock
            cached = self._facts[room_id] = RoomFacts(
                adoption_offer_id=offer.id if offer else None,
                facts=facts,
                shelf=[
                    ShelfItem(item["number"], item["name"], item["grade"], item["spec"])
                    for item in facts["shelf"]
                ],
            )
        return cached

    def _say_once(self, room_id: int, what: str, text: str) -> None:
        if self.redis.set(f"heli:live:room:{room_id}:bot:said:{what}", 1, nx=True, ex=86400):
            comments.publish_reply(room_id, text, kind="announcement")

    def _announce(self, room_id: int) -> None:
        facts = self.facts(room_id).facts
        if facts["live_status"] != LIVE:
            return
        self.scheduled.post(db.session, room_id)
        low = self.app.config["LIVE_LOW_STOCK_UNITS"]
        now = time.time()
        for item in facts["shelf"]:
            sale = item["flash_sale"]
            if sale:
                key, remaining = f"sale:{sale['id']}", sale["remaining"]
                if now < sale["starts_at"]:
                    wait = int(sale["starts_at"] - now)
                    for mark in COUNTDOWN_AT:
                        if 0 < wait <= mark and wait > mark - 5:
                            said = answers.sale_starting(item, wait)
                            self._say_once(room_id, f"{key}:starts_in:{mark}", said)
                    continue
                if now < sale["ends_at"]:
                    self._say_once(room_id, f"{key}:start", answers.sale_started(item))
                left = int(sale["ends_at"] - now)
                for mark in COUNTDOWN_AT:
                    if 0 < left <= mark and left > mark - 5 and remaining > 0:
                        self._say_once(
                            room_id, f"{key}:left:{mark}", answers.seconds_left(item, left)
                        )
            elif item["number"] == facts["on_screen"]:
                key, remaining = f"sku:{item['sku_id']}", item["stock"]
            else:
                continue
            if remaining == 0:
                self._say_once(room_id, f"{key}:sold_out", answers.sold_out(item))
            elif remaining <= low and not (sale and remaining == sale["units"]):
                marks = [mark for mark in (low, 5, 3, 1) if mark <= low and remaining <= mark]
                self._say_once(
                    room_id, f"{key}:low:{min(marks)}", answers.low_stock(item, remaining)
                )
