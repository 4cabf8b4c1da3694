"""Processes as Linux's /proc shows them, for the tests that watch a server's children (the
solver process, uvicorn's workers): their parent, command line and state."""

from __future__ import annotations

import os
from pathlib import Path


def parent_of(pid: int) -> int | None:
    """The parent of process ``pid`` (None once it has gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and parent_of(int(e)) == pid]


def descendants(pid: int) -> list[int]:
    """Every live descendant of process ``pid``."""
    return [d for child in children(pid) for d in (child, *descendants(child))]


def cmdline(pid: int) -> str:
    """Process ``pid``'s command line, its arguments joined by spaces ("" once it has gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Is process ``pid`` running (a zombie has ended: only its exit status waits)?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
