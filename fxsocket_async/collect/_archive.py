"""What a new writer reads of the sessions before it: crashes to close, ends to resume from."""

from __future__ import annotations

from ._journal import (
    End,
    FileSealed,
    GapRecord,
    Listening,
    SessionStart,
    is_running,
    read_journal,
)
from ._layout import Layout
from ._recovery import recover_session

__all__ = ["previous_ends", "recover_all"]

_Key = tuple[str, str]


def recover_all(layout: Layout, own: str, row_group_rows: int) -> int:
    """Close every crashed session of the archive (not ``own``, not a running one).

    Returns how many files were recovered from parts in progress.
    """
    recovered = 0
    for session in layout.session_ids():
        if session == own:
            continue
        path = layout.journal(session)
        records = read_journal(path)
        if any(isinstance(r, End) for r in records) or is_running(path):
            continue
        start = next((r for r in records if isinstance(r, SessionStart)), None)
        fmt = start.format if start is not None else "parquet"
        recovered += recover_session(layout, session, fmt, row_group_rows)
    return recovered


def previous_ends(
    layout: Layout, own: str
) -> tuple[dict[_Key, tuple[int, str]], dict[_Key, tuple[int, float, float]]]:
    """Per (account, symbol) of the finished sessions: when its coverage ended (and by which
    session), and its last tick written (broker time ns, bid, ask)."""
    ends: dict[_Key, tuple[int, str]] = {}
    newest: dict[_Key, tuple[int, tuple[int, float, float]]] = {}
    for session in layout.session_ids():
        if session == own:
            continue
        records = read_journal(layout.journal(session))
        end = next((r for r in records if isinstance(r, End)), None)
        if end is None:
            continue  # still running: it has not ended
        keys: set[_Key] = set()
        for record in records:
            if isinstance(record, FileSealed):
                key = (record.account, record.symbol)
                keys.add(key)
                if record.last >= newest.get(key, (-1, (0, 0.0, 0.0)))[0]:
                    broker, bid, ask = record.last_tick
                    newest[key] = (record.last, (broker, bid, ask))
            elif isinstance(record, GapRecord):
                keys.add((record.account, record.symbol))
            elif isinstance(record, Listening):
                keys.update((record.account, s) for s in record.symbols)
            elif isinstance(record, SessionStart):
                keys.update((a, s) for a, symbols in record.subscriptions for s in symbols)
        for key in keys:
            if end.ended >= ends.get(key, (-1, ""))[0]:
                ends[key] = (end.ended, session)
    return ends, {key: tick for key, (_, tick) in newest.items()}
