"""Warm pools: containers started ahead of need, so an episode never waits for a cold start, and the removal of
every container this process holds (at the end of a run, at interpreter exit).

Starting and removing containers happens in background threads; they are waited for at exit, so none is cut
off half-way.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any, Callable

from lambench.sandboxes.containers.container import CLOSING, Container, close_live

__all__ = ["WarmPool", "warm_pool", "shutdown_pools"]

_BACKGROUND: set[threading.Thread] = set()
"""Threads that start or remove containers: waited for at exit, so none is cut off half-way."""
_BACKGROUND_LOCK = threading.Lock()


def _background(target: Callable[[], Any], name: str) -> None:
    def run() -> None:
        try:
            target()
        finally:
            with _BACKGROUND_LOCK:
                _BACKGROUND.discard(threading.current_thread())

    t = threading.Thread(target=run, daemon=True, name=name)
    with _BACKGROUND_LOCK:
        _BACKGROUND.add(t)
    t.start()


class WarmPool:
    """Containers started ahead of need, so an episode never waits for a cold start.

    Each episode takes a *fresh* container (nothing of a previous episode can leak into it) and the
    pool starts a replacement in the background; a used container is removed in the background too.
    ``prepare`` runs on each new container before it is handed out (e.g. open its session).
    """

    def __init__(self, factory: Callable[[], Container], *, size: int = 1,
                 prepare: Callable[[Container], None] | None = None):
        self.factory = factory
        self.size = size
        self.prepare = prepare
        self._ready: list[Container] = []
        self._cond = threading.Condition()
        self._starting = 0
        self._closed = False
        self._errors: list[str] = []
        self._trash: list[Container] = []

    def _make(self) -> Container:
        c = self.factory().start()
        try:
            if self.prepare is not None:
                self.prepare(c)
        except BaseException:
            c.close()
            raise
        return c

    def _fill(self) -> None:
        while True:
            with self._cond:
                if self._closed or len(self._ready) + self._starting >= self.size:
                    return
                self._starting += 1
            c = None
            try:
                c = self._make()
            except Exception as exc:  # reported to the next get(), which starts one itself
                with self._cond:
                    self._errors.append(f"{type(exc).__name__}: {exc}")
                    self._starting -= 1
                    self._cond.notify_all()
                return
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()  # close() waits for the starts under way, get() for a container
                if self._closed:
                    c.close()
                    return
                self._ready.append(c)

    def _refill_later(self) -> None:
        if self.size > 0 and not CLOSING.is_set():
            _background(self._fill, "lambench-warm-pool")

    def get(self, *, refill: bool = True) -> Container:
        """A fresh, started container: a warm one if ready, else one started now.  Its replacement starts in the
        background now, or (``refill=False``) when the caller calls :meth:`refill`: after its own set-up, which then
        does not share the CPU with a container starting."""
        with self._cond:
            if not self._ready and self._starting:  # one is on its way: usually quicker than a new one
                self._cond.wait_for(lambda: self._ready or not self._starting, timeout=60)
            c = self._ready.pop() if self._ready else None
            self._errors.clear()
        if c is None:
            c = self._make()
        if refill:
            self._refill_later()
        return c

    def refill(self) -> None:
        """Start the replacement of the containers handed out (see :meth:`get`)."""
        self._refill_later()

    def release(self, c: Container) -> None:
        """Remove a used container (in the background: the next episode need not wait for it)."""
        if CLOSING.is_set():
            c.close()
        else:
            _background(c.close, "lambench-remove")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: not self._starting, timeout=60)  # a start under way ends first
            ready, self._ready = self._ready, []
        for c in ready:
            c.close()


_POOLS: dict[Any, WarmPool] = {}
_POOLS_LOCK = threading.Lock()


def warm_pool(key: Any, factory: Callable[[], Container], *, size: int | None = None,
              prepare: Callable[[Container], None] | None = None) -> WarmPool:
    """The process's pool for ``key`` (created on first use; ``LAMBENCH_WARM`` sets its size, default 1)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            n = size if size is not None else int(os.environ.get("LAMBENCH_WARM", "1"))
            pool = _POOLS[key] = WarmPool(factory, size=n, prepare=prepare)
        return pool



def shutdown_pools() -> None:
    """Remove every container this process holds: warm pools, containers being started or removed."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()
    with _BACKGROUND_LOCK:
        threads = list(_BACKGROUND)
    for t in threads:
        t.join(timeout=60)
    close_live()


def _close_all() -> None:
    CLOSING.set()
    shutdown_pools()


atexit.register(_close_all)


def _forget_after_fork() -> None:
    """In a forked child (a pool worker forked from the run): the parent's pools and threads are the parent's."""
    global _BACKGROUND_LOCK, _POOLS_LOCK
    _BACKGROUND.clear()
    _POOLS.clear()
    _BACKGROUND_LOCK, _POOLS_LOCK = threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
