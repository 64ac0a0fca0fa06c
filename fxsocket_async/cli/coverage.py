"""``fxsocket-async coverage DIR``: per symbol, what is covered and where the holes are.

Reads the sessions' journals only: no extra needed, nothing written (a
crashed session's part in progress stays for the next ``collect --resume``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..collect import Coverage, Span, coverage
from ..collect._timefmt import iso_ns
from ._common import fail

__all__ = ["coverage_lines", "show_coverage"]


def _when(ns: int) -> str:
    # To the millisecond: enough to read, and the JSON output has every digit.
    return iso_ns(ns)[:23].replace("T", " ")


def _length(span: Span) -> str:
    seconds = span.seconds
    if seconds < 120:
        return f"{seconds:.3f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def coverage_lines(report: Coverage) -> list[str]:
    """The text report: the sessions, then each symbol's covered spans and gaps in order."""
    lines = [f"archive {report.directory}: {len(report.sessions)} sessions"]
    for s in report.sessions:
        ended = "running" if s.ended is None else _when(s.ended)
        line = f"  session {s.session}: {_when(s.started)} -> {ended} UTC, {s.how}, "
        line += f"{s.ticks:,} ticks in {s.files} files"
        if s.missing:
            line += f" ({len(s.missing)} files missing: {', '.join(s.missing[:3])})"
        lines.append(line)
    for sym in report.symbols:
        covered = sum(span.seconds for span in sym.covered)
        lines.append(
            f"{sym.symbol} (account {sym.account}): {sym.ticks:,} ticks in {sym.files} files, "
            f"covered {covered:,.1f} s, {len(sym.gaps)} gaps"
        )
        entries: list[tuple[int, str]] = []
        for span in sym.covered:
            entries.append(
                (
                    span.start,
                    f"  covered  {_when(span.start)} -> {_when(span.end)}  {_length(span)}",
                )
            )
        for gap in sym.gaps:
            why = f"{gap.reason}: {gap.detail}" if gap.detail else gap.reason
            text = f"  gap      {_when(gap.start)} -> {_when(gap.end)}  {_length(gap)}  {why}"
            entries.append((gap.start, text))
        lines += [text for _, text in sorted(entries, key=lambda e: e[0])]
    return lines


def show_coverage(directory: str, *, as_json: bool, symbols: Sequence[str]) -> int:
    """Print the coverage of ``directory``; returns the exit status (1: no archive there)."""
    try:
        report = coverage(directory)
    except FileNotFoundError as exc:
        return fail(str(exc))
    if symbols:
        wanted = set(symbols)
        kept = tuple(s for s in report.symbols if s.symbol in wanted)
        report = Coverage(report.directory, report.sessions, kept)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(coverage_lines(report)))
    return 0
