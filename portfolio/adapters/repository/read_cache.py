"""A server process's memory of what pages read most and what changes least, each kept under a
token the database draws anew whenever what it stands for is written (revision 0016):
``quarters.scores_token`` for a quarter's scores, ``missions.candidates_token`` for a mission's
candidates and their options. Triggers set the tokens, so they change whatever writes: the
application, an import, or a statement typed at the database. A token names one state, in any
database, so an entry is right for as long as anyone can read its token; an old one simply
stops being asked for and ages out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from optimiser.result import Result
from portfolio.domain.model import Candidate, Score

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class TokenMemory(Generic[T]):
    """Least recently used entries by (row id, token), holding at most ``max_items`` items in
    all; safe across threads. The items are shared by every reader: no caller changes a domain
    model in place (``Strict.with_changes`` copies)."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._entries: OrderedDict[tuple[int, str], tuple[T, ...]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> tuple[T, ...] | None:
        with self._lock:
            items = self._entries.get(key)
            if items is not None:
                self._entries.move_to_end(key)
            return items

    def put(self, key: tuple[int, str], items: tuple[T, ...]) -> None:
        if len(items) > self.max_items:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            self._held -= len(old) if old is not None else 0
            self._entries[key] = items
            self._held += len(items)
            while self._held > self.max_items:
                _, dropped = self._entries.popitem(last=False)
                self._held -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0


QUARTER_SCORES: TokenMemory[Score] = TokenMemory(30_000)
"""Quarters' scores (``Scores.all``), at most 30,000 (about 85 MB, 2.8 KB a score): the large
programme's rounds have 3,000 each."""

MISSION_CANDIDATES: TokenMemory[Candidate] = TokenMemory(6_000)
"""Missions' candidates with their options (``Candidates.all``), at most 6,000 (a large
programme has 300)."""


class Memo(Generic[K, T]):
    """The value made for each of the last ``max_entries`` keys, least recently used out first;
    safe across threads. For values that are a pure function of their key: a key must name
    everything its value was made of (the text a model was parsed from; the database tokens and
    settings live aggregates were computed from), so an entry is right by construction for as
    long as anyone asks for it. The values are shared by every reader, as ``TokenMemory``'s."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[K, T] = OrderedDict()
        self._lock = threading.Lock()

    def kept(self, key: K, make: Callable[[], T]) -> T:
        """The value kept under ``key``, else ``make()``, kept under it from now on."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = make()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


RUN_RESULTS: Memo[str, Result] = Memo(32)
"""Runs' results as lists of runs read them (``Runs.records``), by the text stored, at most
32: a large programme's result is 0.1 MB of text and 0.9 MB as a model (866 funding rows); its
twelve quarters' runs took 28 ms to decode and validate on every view of its runs page."""
