"""Pages of a query: pages count from 1."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select

Query = TypeVar("Query", bound=Select)


def page_of(query: Query, page: int, page_size: int) -> Query:
    """The rows of one page of the query (the query sets the order)."""
    return query.offset((page - 1) * page_size).limit(page_size)
