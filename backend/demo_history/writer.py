"""Rows buffered per table and inserted with SQLAlchemy Core in chunks (executemany), parents
before children, with ids assigned here so rows can point at each other before they are written."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import JSON, DateTime, Table, func, select, text
from sqlalchemy.orm import Session

from backend.aftersales.models import AfterSale
from backend.batches.models import Batch, BatchStep, Harvest, Inspection, SortingResult
from backend.customers.models import Customer
from backend.fulfilment.models import Parcel, TrackingEvent, Wave
from backend.inventory.models import Lot, StockMovement, StockReservation
from backend.live.models import FlashClaim, FlashSale, LiveClaim, LiveRoom, LiveShowSummary
from backend.notices.models import Broadcast, NoticeDelivery, SellerNotice
from backend.officialaccount.models import OAFollower
from backend.orders.models import Order, OrderItem
from backend.payments.models import Payment, Refund
from backend.platforms.models import PlatformOrder, Shop
from backend.trace.models import PrintRun, TraceCode, TraceFlag, TraceScan

# Parents first: a flush writes every buffer in this order, so a row's parents are in already.
ORDER = [
    Customer, Harvest, Batch, BatchStep, SortingResult, Inspection, Lot, Wave, LiveRoom,
    FlashSale, Shop, Order, OrderItem, Payment, PlatformOrder, StockReservation, StockMovement,
    FlashClaim, LiveClaim, Parcel, TrackingEvent, AfterSale, Refund, PrintRun, TraceCode,
    TraceScan, TraceFlag, LiveShowSummary, OAFollower, Broadcast, SellerNotice, NoticeDelivery,
]  # fmt: skip
TABLES: list[Table] = [model.__table__ for model in ORDER]


class Writer:
    """Buffers rows (dicts with every column they set) and writes them `chunk` at a time."""

    def __init__(self, session: Session, chunk: int = 20_000):
        self.session = session
        self.chunk = chunk
        self.buffers: dict[str, list[dict]] = {table.name: [] for table in TABLES}
        self.next_ids: dict[str, int] = {}
        self.counts: dict[str, int] = {table.name: 0 for table in TABLES}
        self.pending = 0
        for table in TABLES:
            highest = session.scalar(select(func.max(table.c.id)))
            self.next_ids[table.name] = (highest or 0) + 1

    def add(self, model, row: dict) -> int:
        """Buffer a row of model's table; answers its id."""
        name = model.__tablename__
        row_id = self.next_ids[name]
        self.next_ids[name] = row_id + 1
        row["id"] = row_id
        self.buffers[name].append(row)
        self.pending += 1
        if self.pending >= self.chunk:
            self.flush()
        return row_id

    def flush(self) -> None:
        """Write every buffer, parents first. The rows go to the driver as they are (SQLite's
        executemany, PostgreSQL's COPY): SQLAlchemy's per-row work would take most of the time."""
        connection = self.session.connection()
        postgres = connection.dialect.name == "postgresql"
        for table in TABLES:
            rows = self.buffers[table.name]
            if not rows:
                continue
            # rows that set other columns (the rest left to their defaults) go separately
            shapes: dict[tuple, list[dict]] = {}
            for row in rows:
                shapes.setdefault(tuple(row), []).append(row)
            for columns, same in shapes.items():
                convert = [
                    (index, converter)
                    for index, name in enumerate(columns)
                    if (converter := _converter(table.c[name].type, postgres))
                ]
                values = [tuple(_values(row, convert)) for row in same]
                names = ", ".join(columns)
                if postgres:
                    cursor = connection.connection.driver_connection.cursor()
                    with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                        for value in values:
                            copy.write_row(value)
                else:
                    marks = ", ".join("?" for _ in columns)
                    connection.exec_driver_sql(
                        f"INSERT INTO {table.name} ({names}) VALUES ({marks})", values
                    )
            self.counts[table.name] += len(rows)
            self.buffers[table.name] = []
        self.pending = 0

    def finish(self) -> dict[str, int]:
        """Write what is left and move PostgreSQL's id sequences past the ids used here."""
        self.flush()
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            for table in TABLES:
                if self.counts[table.name]:
                    connection.execute(
                        text(
                            "SELECT setval(pg_get_serial_sequence(:t, 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        ),
                        {"t": table.name},
                    )
        return {name: n for name, n in self.counts.items() if n}


def _values(row: dict, convert: list) -> list:
    values = list(row.values())
    for index, converter in convert:
        if values[index] is not None:
            values[index] = converter(values[index])
    return values


def _sqlite_time(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")  # as SQLAlchemy stores it in SQLite


def _converter(column_type, postgres: bool):
    """What a value of this column becomes for the driver (None: as it is)."""
    if isinstance(column_type, JSON):
        return lambda value: json.dumps(value, ensure_ascii=False)
    if isinstance(column_type, DateTime) and not postgres:
        return _sqlite_time
    return None
