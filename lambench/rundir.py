"""The run directory's files: durable appends, torn-line repair, atomic writes.

Every writer of a run directory (live runs, offline replay) goes through these, so a line is either whole and
fsynced or cut away on the next start, and ``config.json`` / ``summary.json`` are never half-written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lambench.errors import LambenchError

__all__ = ["RunDirError", "Appender", "atomic_write", "repair_jsonl"]


class RunDirError(LambenchError, ValueError):
    """A run directory that cannot be used for this run."""


def repair_jsonl(path: Path) -> int:
    """Cut a partial last line left by a killed writer; return the bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        # find the last newline
        chunk = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            data = f.read(pos - start)
            i = data.rfind(b"\n")
            if i != -1:
                f.truncate(start + i + 1)
                return size - (start + i + 1)
            pos = start
        f.truncate(0)
        return size


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Appender:
    """Appends episode lines durably (flush + fsync per line, or per batch of lines)."""

    def __init__(self, path: Path):
        self.f = open(path, "ab")

    def write(self, record: dict[str, Any]) -> None:
        self.write_many([record])

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Append the lines of ``records`` with one fsync (episodes that finished together: a group commit)."""
        # ASCII escapes keep any string (even a lone surrogate from a model) valid JSON;
        # ``default=repr`` keeps an odd object an agent returned from stopping the run.
        data = b"".join(json.dumps(r, ensure_ascii=True, separators=(",", ":"), default=repr).encode("ascii") + b"\n"
                        for r in records)
        self.f.write(data)
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()
