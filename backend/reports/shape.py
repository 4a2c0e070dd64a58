"""What a report is, whatever it measures: sections of a table and a chart, and the CSV of it."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.csv_export import csv_text, yuan


@dataclass(frozen=True)
class Chart:
    """An ECharts chart: `kind` bar / line / pie; `x` the categories; `series` (name, values,
    kind or None for the chart's kind); `stacked` stacks the bars."""

    kind: str
    x: list[str]
    series: list[tuple[str, list, str | None]]
    stacked: bool = False
    money: bool = False  # values in fen: shown as yuan


@dataclass(frozen=True)
class Section:
    title: str
    columns: list[tuple[str, str]]  # (key, Chinese label); keys ending in _fen are money
    rows: list[dict]
    chart: Chart | None = None
    note: str = ""


@dataclass
class Report:
    name: str
    title: str
    sections: list[Section] = field(default_factory=list)

    def csv(self) -> str:
        """Every section's table, one after another, money in yuan."""
        rows: list[list] = []
        for section in self.sections:
            rows.append([section.title])
            rows.append([label for _, label in section.columns])
            rows += [
                [_cell(key, row.get(key)) for key, _ in section.columns] for row in section.rows
            ]
            rows.append([])
        return csv_text(rows)


def _cell(key: str, value) -> object:
    if key.endswith("_fen") and isinstance(value, int):
        return yuan(value)
    if isinstance(value, float):
        return f"{value:.4f}"
    return value
