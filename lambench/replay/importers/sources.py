"""Reading import sources: files of a directory, JSON arrays item by item, JSON lines, each read with a bound.

Nothing is read past :data:`MAX_IMPORT_BYTES` at once (``$LAMBENCH_MAX_IMPORT_BYTES`` overrides it): a longer
line, item or document raises :class:`~lambench.replay.dataset.LineTooLong`; anything else unreadable is added
to the caller's ``skipped`` list, naming the file (and the line or item).
"""

from __future__ import annotations

import codecs
import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lambench.replay.dataset import DatasetError, LineTooLong, line_limit, read_lines, size_text

__all__ = ["IMPORT_LIMIT_ENV", "MAX_IMPORT_BYTES", "SUFFIXES", "read_objects", "source_files"]

SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
MAX_IMPORT_BYTES = 64 << 20
"""The most read at once from a source, in bytes after decompression: one JSONL line, one item of a JSON array
(arrays are read item by item), or a whole JSON document of another shape.  A Mind2Web task with the HTML of
its pages is a few MB.  ``$LAMBENCH_MAX_IMPORT_BYTES`` overrides it."""
IMPORT_LIMIT_ENV = "LAMBENCH_MAX_IMPORT_BYTES"


def source_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    found = [p for p in src.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES)]
    return sorted(found, key=lambda p: p.relative_to(src).as_posix())


def _is_jsonl(path: Path) -> bool:
    return path.name.lower().endswith((".jsonl", ".jsonl.gz"))


def read_objects(path: Path, skipped: list[str]) -> list[tuple[str, Any]]:
    """The JSON values of a file, each with where it is (``FILE, line N`` / ``FILE, item I`` / ``FILE``).

    A JSON array gives its items, read one at a time; a JSONL file (or a .json file that turns out to be
    JSONL) gives its lines.  Unreadable files and lines that are not JSON are added to ``skipped``.  No
    line, item or other document is read past :data:`MAX_IMPORT_BYTES`: that raises :class:`LineTooLong`.
    """
    limit = line_limit(path, env=IMPORT_LIMIT_ENV, default=MAX_IMPORT_BYTES)
    if _is_jsonl(path):
        return _jsonl_objects(path, skipped, limit)
    try:
        with _open_binary(path) as fh:
            head = fh.read(1 << 16)
            first = head.lstrip(b" \t\r\n")[:1]
            while head and not first:  # a long run of blank space first
                head = fh.read(1 << 16)
                first = head.lstrip(b" \t\r\n")[:1]
            if not first:
                skipped.append(f"{path}: the file is empty")
                return []
            if first == b"[":
                try:
                    return [(f"{path}, item {i}", item) for i, item in enumerate(_array_items(path, fh, head, limit))]
                except (LineTooLong, UnicodeDecodeError):
                    raise
                except (ValueError, RecursionError) as exc:
                    why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
                    skipped.append(f"{path}: not valid JSON ({why})")
                    return []
            data = head + fh.read(limit + 1 - len(head)) if len(head) <= limit else head
            whole = len(data) <= limit
            text = data.decode("utf-8") if whole else ""
    except LineTooLong:
        raise
    except (OSError, EOFError, UnicodeDecodeError, ValueError, zlib.error) as exc:
        skipped.append(f"{path}: cannot read the file ({type(exc).__name__}: {exc})")
        return []
    if not whole:  # too big to be one document: JSON lines under a .json name, or too big to import
        firstline = data.split(b"\n", 1)[0].decode("utf-8", "replace")
        if _parses_as_object(firstline):
            return _jsonl_objects(path, skipped, limit)
        raise LineTooLong(path, [f"the file is larger than {size_text(limit)}, the limit of one JSON document to import "
                                 "(a JSON array is read one item at a time, JSON lines one line at a time); split it, "
                                 f"or set {IMPORT_LIMIT_ENV} to a larger number of bytes if it is right"])
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        firstline = next((ln for ln in text.splitlines() if ln.strip()), "")
        if not _parses_as_object(firstline) or firstline.strip() == text.strip():
            skipped.append(f"{path}: not valid JSON ({exc})")
            return []
        return _jsonl_objects(path, skipped, limit)
    if isinstance(doc, list):
        return [(f"{path}, item {i}", item) for i, item in enumerate(doc)]
    return [(str(path), doc)]


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _jsonl_objects(path: Path, skipped: list[str], limit: int) -> list[tuple[str, Any]]:
    """The values of the lines of a JSONL file, each line read with a bound (a longer one raises)."""
    out = []
    bad = 0
    try:
        for lineno, line in read_lines(path, max_line_bytes=limit, what="an imported line", env=IMPORT_LIMIT_ENV):
            try:
                out.append((f"{path}, line {lineno}", json.loads(line)))
            except (ValueError, RecursionError) as exc:
                why = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
                skipped.append(f"{path}, line {lineno}: not valid JSON ({why})")
                bad += 1
    except LineTooLong:
        raise
    except DatasetError as exc:
        skipped.append(f"{path}: {exc.problems[0]}")
        return []
    if not out and not bad:
        skipped.append(f"{path}: the file is empty")
    return out


def _array_items(path: Path, fh: Any, head: bytes, limit: int) -> Iterator[Any]:
    """The items of a JSON array whose first bytes ``head`` were read from ``fh``, parsed one at a time.

    Only the item being parsed is held (a Mind2Web file holds many MB of HTML per task); an item longer than
    ``limit`` characters raises :class:`LineTooLong`, anything that is not a JSON array ``ValueError``.
    """
    decode = codecs.getincrementaldecoder("utf-8")().decode
    parse = json.JSONDecoder().raw_decode
    buf, pos, base, eof = decode(head), 0, 0, False  # base: characters dropped from the front of buf

    def more(want: int) -> None:
        nonlocal buf, pos, base, eof
        if pos > 1 << 20:
            buf, base, pos = buf[pos:], base + pos, 0
        chunk = fh.read(max(want, 1 << 20))
        eof = not chunk
        buf += decode(chunk, final=eof)

    def skip_space() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or eof:
                return buf[pos] if pos < len(buf) else ""
            more(0)

    skip_space()
    pos += 1  # the "[" the caller saw
    index = 0
    while True:
        ch = skip_space()
        if ch == "]" and index == 0:
            pos += 1
            break
        if index:
            if ch == "]":
                pos += 1
                break
            if ch != ",":
                raise ValueError(f"expected ',' or ']' after item {index - 1} at character {base + pos}"
                                 if ch else "the array is not closed (the file ends inside it)")
            pos += 1
            skip_space()
        while True:  # parse one item, reading more until it is complete (or over the limit)
            try:
                value, end = parse(buf, pos)
            except json.JSONDecodeError as exc:
                if eof:
                    raise ValueError(f"{exc.msg} at character {base + exc.pos} (in item {index})") from None
                end = -1
            if end >= 0 and (end < len(buf) or eof):  # a number at the very end of buf may go on in the next chunk
                break
            if len(buf) - pos > limit:
                break
            more(len(buf) - pos)
        if (end if end >= 0 else len(buf)) - pos > limit:
            raise LineTooLong(path, [
                f"item {index} (from character {base + pos}) is longer than {size_text(limit)}, the limit of one "
                f"imported item; split it, or set {IMPORT_LIMIT_ENV} to a larger number of bytes if it is right"])
        yield value
        pos = end
        index += 1
    if skip_space():
        raise ValueError(f"extra data after the array at character {base + pos}")


def _parses_as_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False
