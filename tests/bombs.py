"""Hostile input for the bounded readers: a gzip of one huge line, and a way to measure what reading it costs."""

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_gzip_bomb(path: Path, mib: int, *, prefix: bytes = b"", byte: bytes = b"a") -> Path:
    """A valid gzip of ``prefix`` then ``mib`` MiB of one repeated byte, no newline, made without compressing
    it all: after a full flush deflate restarts, so every 1 MiB block compresses to the same bytes."""
    block = byte * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    seg = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    with open(path, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head)
        for _ in range(mib):
            f.write(seg)
            crc = zlib.crc32(block, crc)
        f.write(c.flush())
        f.write(struct.pack("<II", crc, (len(prefix) + (mib << 20)) & 0xFFFFFFFF))
    return path


_MEASURE = """
import json, resource, sys
from lambench.replay.dataset import DatasetError
from lambench.replay.importers import import_dataset
from lambench.replay.dataset import load_dataset
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_dataset(sys.argv[1]) if sys.argv[2] == "dataset" else import_dataset(sys.argv[2], sys.argv[1])
    error = None
except DatasetError as exc:
    error = str(exc)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"error": error, "peak_growth_mb": grown}))
"""


def peak_growth(path: Path, reader: str, env: dict[str, str] | None = None) -> dict:
    """Load ``path`` in a fresh process (``reader`` "dataset", or an import format): the error, and how
    much the peak resident memory grew while reading (MB)."""
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path), reader], capture_output=True, text=True,
                         timeout=300, cwd=ROOT, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``lambench ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lambench.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env={**os.environ, **(env or {})})
