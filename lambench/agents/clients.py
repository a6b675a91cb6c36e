"""What model adapters share: retries with backoff, a response cache, a concurrency limit across
worker processes, prices, and the error that marks an infrastructure failure.

A failed request is never the model's fault: after the retries it raises :class:`InfraError`,
which ends the episode as an infrastructure error (retried by the runner, never scored).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import os
import random
import re
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["is_secret_name", "InfraError", "TransientError", "RetryPolicy", "with_retries", "ResponseCache", "SharedSemaphore",
           "PriceTable", "missing_extra", "request_key", "parse_retry_after", "retry_after_from", "wire_tool_names",
           "html_title", "refuse_text", "import_sdk"]


class InfraError(RuntimeError):
    """The model endpoint failed (after retries): an infrastructure error, not the model's answer."""


class TransientError(Exception):
    """A failure worth retrying: 429, 5xx, a dropped connection, a timeout."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def safe_url(url: str | None) -> str | None:
    """A URL without credentials (``http://user:pw@host`` -> ``http://host``) and with key-like query values
    masked, for messages, cache keys and config files."""
    if not url:
        return url
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode([(k, "***" if is_secret_name(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_SECRET_PARTS = ("key", "token", "secret", "password", "passwd", "sig", "auth", "credential", "bearer")
_NOT_SECRET = re.compile(r"tokens(?![a-z])|tokeniz[a-z]*")
"""A count of tokens (``max_tokens``, ``max_new_tokens``) and a tokenizer's name: what a run must record."""


def is_secret_name(name: str) -> bool:
    """Whether an option or query parameter named ``name`` may hold a secret: it contains a secret part anywhere —
    ``api_key``, ``apitoken``, ``hfToken``, ``secretkey``, ``X-Auth``, ``sig`` — once the token counts and the
    tokenizer are set aside (``max_tokens`` is recorded). When in doubt a name is masked."""
    text = _NOT_SECRET.sub("", name.lower())
    return any(part in text for part in _SECRET_PARTS)


CONTEXT_OVERFLOW = re.compile(r"context (length|window)|maximum context|too many tokens|prompt is too long"
                      r"|exceeds? the (model|context)", re.I)
"""A 400 that says the prompt is too long for the model: the model's failure, scored (not retried)."""


def error_message(exc: Any) -> str:
    """The message of an SDK's API error: the JSON error body's, an HTML page's title, or the exception's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
        if isinstance(err, str):
            return err[:500]
    title = html_title(body)
    if title is not None:
        return f"an HTML page ({title!r}) instead of a JSON answer"
    return str(getattr(exc, "message", exc))[:500]


def missing_extra(package: str, extra: str) -> ImportError:
    """The error for an optional dependency that is not installed, with the exact fix."""
    return ImportError(f"this agent needs the {package!r} package: pip install 'lambench[{extra}]' "
                       f"(or: pip install {package})")


def import_sdk(package: str, extra: str) -> Any:
    """The optional dependency ``package`` (a provider's SDK), or the ImportError of :func:`missing_extra`."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise missing_extra(package, extra) from None


def parse_retry_after(value: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        return max(0.0, parsedate_to_datetime(str(value)).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def retry_after_from(headers: Any) -> float | None:
    """Seconds to wait from a response's headers: ``retry-after-ms`` (OpenAI) or ``Retry-After``."""
    if headers is None:
        return None
    ms = parse_retry_after(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    return parse_retry_after(headers.get("retry-after"))


def html_title(text: Any) -> str | None:
    """The title of an HTML page (a proxy's error page, a web UI), or None when ``text`` is not HTML."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or not re.match(r"\s*(<!doctype html|<html|<head|<body)", text, re.IGNORECASE):
        return None
    m = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL) or re.search(
        r"<h1[^>]*>(.*?)</h1>", text, re.IGNORECASE | re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m.group(1))).strip()[:200] if m else "untitled page"


def refuse_text(resp: Any, endpoint: str, *, instead_of: str, api: str) -> None:
    """Raise InfraError when an SDK returned text (``resp``) rather than ``instead_of``: a 200 that is not JSON is
    a wrong --base-url (a web UI, a proxy), not worth retrying; ``api`` is what --base-url should be."""
    if isinstance(resp, (str, bytes)):
        title = html_title(resp)
        what = f"an HTML page ({title!r})" if title is not None else f"a non-JSON answer ({resp[:200]!r})"
        raise InfraError(f"{endpoint} returned {what} instead of {instead_of}; is --base-url the {api}?")


_WIRE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def wire_tool_names(names: list[str]) -> dict[str, str]:
    """Tool names the model APIs accept (``^[a-zA-Z0-9_-]{1,64}$``), keyed by the environment's names.

    OpenAI and Anthropic refuse the dots of app tools (``mail.send``) with a 400; they are sent as
    ``mail_send`` and the model's calls are mapped back.  Distinct names stay distinct.
    """
    out = {n: n for n in names if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", n)}  # valid names are kept as they are
    used = set(out)
    for name in names:
        if name in out:
            continue
        base = (_WIRE_NAME.sub("_", name) or "tool")[:64]
        wire, i = base, 2
        while wire in used:
            wire = f"{base[:60]}_{i}"
            i += 1
        used.add(wire)
        out[name] = wire
    return out


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` is honoured (up to ``max_wait``)."""

    max_retries: int = 5
    base: float = 1.0
    cap: float = 30.0
    max_wait: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_wait)
        return rng.uniform(0, min(self.cap, self.base * 2 ** attempt))


def with_retries(call: Callable[[], Any], policy: RetryPolicy, *, what: str,
                 sleep: Callable[[float], None] = time.sleep, on_retry: Callable[[str, float], None] | None = None
                 ) -> Any:
    """Run ``call``; retry it on :class:`TransientError`; raise :class:`InfraError` after the last try."""
    rng = random.Random()
    last = ""
    for attempt in range(policy.max_retries + 1):
        try:
            return call()
        except TransientError as exc:
            last = str(exc)
            if attempt == policy.max_retries:
                break
            wait = policy.delay(attempt, exc.retry_after, rng)
            if on_retry:
                on_retry(last, wait)
            sleep(wait)
    raise InfraError(f"{what} failed after {policy.max_retries + 1} attempt(s): {last}")


# ---------------------------------------------------------------------------- the response cache


def request_key(payload: dict[str, Any]) -> str:
    """A stable hash of a request: model, messages, tools and sampling parameters."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class ResponseCache:
    """Request/response pairs on disk under the hash of the request (``DIR/ab/abcdef....json``).

    Written atomically, so parallel workers and killed runs never leave a half-written entry.
    """

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot use {self.dir} as the response cache: {exc}") from None
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return entry.get("response")

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"request": request, "response": response}, fh, ensure_ascii=False, default=repr)
        os.replace(tmp, path)


# ---------------------------------------------------------------------------- concurrency


class SharedSemaphore:
    """At most ``n`` holders across every process of a run: ``n`` lock files, held with ``flock``.

    A process that dies releases its slot with its file descriptors, so a killed worker never
    leaks one.
    """

    def __init__(self, name: str, n: int, directory: str | os.PathLike | None = None):
        if n < 1:
            raise ValueError("the concurrency limit must be at least 1")
        safe = hashlib.sha256(name.encode()).hexdigest()[:16]
        self.dir = Path(directory or tempfile.gettempdir()) / f"lambench-slots-{safe}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = n

    @contextmanager
    def slot(self, poll: float = 0.02) -> Iterator[int]:
        while True:
            for i in range(self.n):
                fd = os.open(self.dir / f"slot{i}", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield i
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                return
            time.sleep(poll)


# ---------------------------------------------------------------------------- prices


class PriceTable:
    """US dollars per million input and output tokens, per model (a JSON or YAML file).

    ``{"gpt-4o-mini": {"input": 0.15, "output": 0.60}, ...}``; a model that is not listed has no
    cost (``None``), never a guessed one.
    """

    def __init__(self, prices: dict[str, dict[str, float]] | None = None):
        self.prices = prices or {}

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> "PriceTable":
        if not path:
            return cls()
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read the price table {path}: {exc}") from None
        if not isinstance(data, dict) or not all(
                isinstance(v, dict) and {"input", "output"} <= set(v)
                and all(isinstance(v[k], (int, float)) for k in ("input", "output")) for v in data.values()):
            raise ValueError(f"{path}: a price table maps model names to {{input: USD per 1M tokens, output: USD "
                             "per 1M tokens}}")
        return cls({str(k): {"input": float(v["input"]), "output": float(v["output"])} for k, v in data.items()})

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float | None:
        p = self.prices.get(model)
        if p is None:
            return None
        return (tokens_in * p["input"] + tokens_out * p["output"]) / 1e6
