"""The local pool: worker processes of this machine, each with its own pipe, owned here from start to end.

A worker runs the chunks sent to it one after the other and sends back each chunk's records.  It leaves Ctrl-C
to the run, and dies with it even after ``kill -9`` (``PR_SET_PDEATHSIG``, and a watchdog thread where that is
missing).  A worker's death is seen at once (its process sentinel, or the end of its pipe, even in the middle of
a result): what it had sent counts, its other chunks are reported lost, and a new worker takes its place.  A
pool still open when Python exits is closed first, its workers killed, so that no worker can hold the exit.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import multiprocessing.util  # noqa: F401  (its exit hook, which joins child processes, must run after ours)
import os
import queue
import signal
import sys
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as mp_wait
from multiprocessing.reduction import ForkingPickler
from typing import Any

from lambench.executors.base import DEAD_WORKER, Call, Executor, Failed, Finished, Lost, Outcome

__all__ = ["LocalPool", "open_pool", "close_pool", "can_fork", "start_pool_server"]


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def can_fork() -> bool:
    """Whether this process may fork its workers directly, which starts them in milliseconds with everything already
    imported: on Linux, from the main thread, with no other Python thread (a fork copies only the calling thread, so
    no lock can be left held by another) and no model runtime loaded (torch's thread pools do not survive a fork
    reliably). Native helper threads that handle forks themselves (numpy's OpenBLAS pool) do not count."""
    return (sys.platform.startswith("linux") and _in_main_thread() and threading.active_count() == 1
            and "torch" not in sys.modules and "fork" in multiprocessing.get_all_start_methods())


def pool_context() -> Any:
    """How pool workers start: forked from this process when it has a single thread (:func:`can_fork`); else
    forked from a server that has lambench imported (starting 16 takes milliseconds, not seconds of imports on 2
    cores); where there is no fork server, spawned."""
    if can_fork():
        return multiprocessing.get_context("fork")
    if not _in_main_thread():  # the server dies with the thread that started it (its PDEATHSIG): main only
        return multiprocessing.get_context("spawn")
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:
        return multiprocessing.get_context("spawn")
    # "__main__": the server imports the main script once (workers would each run it again otherwise)
    ctx.set_forkserver_preload(["__main__", "lambench._forkserver_guard", "lambench.executors.local",
                                "lambench.episode", "lambench.agents.baseline"])
    return ctx


def start_pool_server() -> None:
    """Start the fork server now, in the background, when the pool will need one: it imports lambench while this
    process reads the suite and the run directory, so the pool's workers are ready sooner (the server is reused by
    later runs)."""
    ctx = pool_context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        try:
            forkserver.ensure_running()
        except OSError:  # the pool will try again, and report what fails
            pass


# ---------------------------------------------------------------------------- in the worker process


def _worker_init(parent_pid: int, parent_start: str | None, env: dict[str, str]) -> None:
    """Workers leave Ctrl-C to the parent and die with it, even after ``kill -9`` of the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker would have the run's handler
    os.environ.clear()  # the run's environment now, not the one the (older) fork server started with
    os.environ.update(env)
    try:
        import ctypes

        # PR_SET_PDEATHSIG (Linux): killed with our parent (the run, or the fork server, which exits with the run)
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    from lambench.sandboxes.containers import process_start

    def parent_gone() -> bool:
        if parent_start is not None and os.path.exists("/proc/self/stat"):
            return process_start(parent_pid) != parent_start
        return os.getppid() != parent_pid

    if parent_gone():  # the run died before we got here
        os._exit(1)

    def watchdog() -> None:  # portable fallback for systems without PR_SET_PDEATHSIG
        while True:
            time.sleep(0.5)
            if parent_gone():
                os._exit(1)

    threading.Thread(target=watchdog, daemon=True, name="lambench-watchdog").start()


def _serve(conn: Connection, parent_pid: int, parent_start: str | None, env: dict[str, str],
           warm: list[str]) -> None:
    """A worker's life: say it is up, then run each chunk that arrives and send its records back, until told to
    stop (``None``) or the run's end of the pipe closes."""
    _worker_init(parent_pid, parent_start, env)
    for name in warm:  # what an episode needs, imported now rather than in the worker's first episode
        try:
            importlib.import_module(name)
        except Exception:  # the episode that needs it will report why
            pass
    conn.send(("up", os.getpid()))
    inbox: queue.SimpleQueue[list[Call] | None] = queue.SimpleQueue()
    # the pipe is read while a chunk runs: the run never blocks sending the next chunk while this worker blocks
    # sending its last result
    threading.Thread(target=_read, args=(conn, inbox), daemon=True, name="lambench-inbox").start()
    while (calls := inbox.get()) is not None:
        try:
            if isinstance(calls, _Unreadable):
                raise calls.error
            msg: tuple[str, Any] = ("done", [fn(*args) for fn, args in calls])
        except BaseException as exc:  # even SystemExit: the chunk failed, the worker goes on
            msg = ("failed", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(msg)
        except OSError:  # the run is gone
            return
        except Exception as exc:  # a record that cannot be pickled (nothing of it was sent)
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))


@dataclass
class _Unreadable:
    """A message that arrived whole but did not unpickle (an argument whose pickle fails to load)."""

    error: Exception


def _load(conn: Connection) -> Any:
    """The next message on ``conn``, read whole, then unpickled: one that does not load is an
    :class:`_Unreadable` (the pipe stays in step), never an exception that would stop the reader."""
    data = conn.recv_bytes()
    try:
        return ForkingPickler.loads(data)
    except Exception as exc:
        return _Unreadable(exc)


def _read(conn: Connection, inbox: queue.SimpleQueue) -> None:
    try:
        while True:
            inbox.put(_load(conn))
    except (EOFError, OSError):
        inbox.put(None)


# ---------------------------------------------------------------------------- in the run's process


@dataclass(eq=False)
class _Worker:
    slot: int
    process: Any
    conn: Connection
    tickets: deque[int] = field(default_factory=deque)
    """Its chunks not finished yet, in the order it runs them."""
    up: bool = False


class LocalPool(Executor):
    """``workers`` worker processes (started as chunks come, or ahead with :meth:`start`)."""

    def __init__(self, workers: int) -> None:
        self.slots = workers
        self.workers: list[_Worker | None] = [None] * workers
        self.failed: list[Outcome] = []  # chunks that could not be sent
        self.closed = False
        self.warm = sorted(m for m in sys.modules if m.startswith("lambench."))
        _OPEN_POOLS.add(self)

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w is not None]

    def start(self, n: int) -> bool:
        """Start ``n`` workers and wait until they are up (started at once, they are up at about the same time):
        episodes then start together instead of running beside workers that are still starting. False when a
        worker died on the way."""
        starting = [self.workers[i] or self._spawn(i) for i in range(min(n, self.slots))]
        while not all(w.up for w in starting):
            waiting = {w.conn: w for w in starting if not w.up} | {w.process.sentinel: w for w in starting}
            for obj in mp_wait(list(waiting)):
                w = waiting[obj]
                if obj == w.process.sentinel or not self._take_up(w):
                    return False
        return True

    def _take_up(self, w: _Worker) -> bool:
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            return False
        w.up = msg[0] == "up"
        return w.up

    def _spawn(self, slot: int) -> _Worker:
        from lambench.sandboxes.containers import process_start

        ours, theirs = multiprocessing.Pipe()
        args = (theirs, os.getpid(), process_start(os.getpid()), dict(os.environ), self.warm)
        with warnings.catch_warnings():  # Python 3.12+ warns of any native thread at a fork: see can_fork
            warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                    category=DeprecationWarning)
            process = pool_context().Process(target=_serve, args=args, name=f"lambench-worker-{slot}")
            process.start()
        theirs.close()  # the worker's end lives in the worker alone: its death ends the pipe
        self.workers[slot] = w = _Worker(slot, process, ours)
        return w

    def submit(self, slot: int, ticket: int, calls: list[Call]) -> None:
        w = self.workers[slot] or self._spawn(slot)
        try:
            w.conn.send(calls)
        except OSError:  # the worker is dead: its sentinel reports it, with this chunk
            pass
        except Exception as exc:  # a call that cannot be pickled (nothing of it was sent)
            self.failed.append(Failed(ticket, f"{type(exc).__name__}: {exc}"))
            return
        w.tickets.append(ticket)

    def poll(self, timeout: float) -> list[Outcome]:
        out, self.failed = self.failed, []
        live = [w for w in self.workers if w is not None]
        waiting = {w.conn: w for w in live} | {w.process.sentinel: w for w in live}
        dead: list[_Worker] = []
        for obj in mp_wait(list(waiting), 0 if out else timeout):
            w = waiting[obj]
            if obj != w.process.sentinel and w not in dead and not self._receive(w, out):
                dead.append(w)  # its pipe ended, maybe in the middle of a result
            elif obj == w.process.sentinel and w not in dead:
                dead.append(w)
        for w in dead:
            self._bury(w, out)
        return out

    def _receive(self, w: _Worker, out: list[Outcome]) -> bool:
        """Take the messages ``w`` has sent; False when its pipe ended (it is dead)."""
        try:
            while True:
                self._handle(w, _load(w.conn), out)
                if not w.conn.poll():
                    return True
        except (EOFError, OSError):
            return False

    def _handle(self, w: _Worker, msg: tuple[str, Any] | _Unreadable, out: list[Outcome]) -> None:
        if isinstance(msg, _Unreadable):  # records that pickled in the worker but do not load here
            msg = ("failed", f"{type(msg.error).__name__}: {msg.error}")
        kind, body = msg
        if kind == "up":
            w.up = True
        elif kind == "done":
            out.append(Finished(w.tickets.popleft(), body))
        else:
            out.append(Failed(w.tickets.popleft(), body))

    def _bury(self, w: _Worker, out: list[Outcome]) -> None:
        """``w`` died: take what it finished and sent, report the rest lost; a new worker will take its slot."""
        self.workers[w.slot] = None
        try:
            os.set_blocking(w.conn.fileno(), False)  # a result cut short by the death: no waiting for its end
            while w.conn.poll(0):
                self._handle(w, _load(w.conn), out)
        except (EOFError, OSError):
            pass
        _stop([w], kill=True, grace=2.0)
        if w.tickets:
            out.append(Lost(w.slot, list(w.tickets), DEAD_WORKER))

    def close(self, *, kill: bool = False, grace: float = 5.0) -> None:
        """Stop the workers: idle ones exit within milliseconds of their stop signal; what is still there after
        ``grace`` seconds (or at once with ``kill``: Ctrl-C, SIGTERM) is killed. Then every one is gone."""
        _OPEN_POOLS.discard(self)
        live = [w for w in self.workers if w is not None]
        self.workers = [None] * self.slots
        self.closed = True
        _stop(live, kill=kill, grace=grace)


def _stop(workers: list[_Worker], *, kill: bool, grace: float) -> None:
    procs = [w.process for w in workers]
    if kill:
        _kill(procs)
    else:
        for w in workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        _wait_gone(procs, grace)
        _kill(procs)  # a worker that does not stop
    _wait_gone(procs, grace)
    for w in workers:
        w.conn.close()
        if w.process.exitcode is not None or not _alive(w.process):
            w.process.join(0.5)  # reaped (its exit can take a moment to be collectable): no zombie stays behind


def _alive(proc: Any) -> bool:
    return proc.sentinel not in _exited([proc])


def _exited(procs: list[Any], timeout: float = 0.0) -> set[Any]:
    """The sentinels of those of ``procs`` that have exited, waiting up to ``timeout`` for one to."""
    try:
        return set(mp_wait([p.sentinel for p in procs], timeout=timeout)) if procs else set()
    except (OSError, ValueError):
        return set()


def _wait_gone(procs: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while procs and (left := deadline - time.monotonic()) > 0:
        gone = _exited(procs, left)
        procs = [p for p in procs if p.sentinel not in gone]


def _kill(procs: list[Any]) -> None:
    """SIGKILL the workers that are still running (an exited one is not signalled: its pid may be reused)."""
    gone = _exited(procs)
    for p in procs:
        try:
            if p.sentinel not in gone:
                os.kill(p.pid, signal.SIGKILL)
        except (OSError, ValueError, AttributeError):
            pass


def open_pool(workers: int, n_up: int) -> LocalPool:
    """A pool of ``workers`` processes with ``n_up`` of them started and up (see :meth:`LocalPool.start`); a new
    pool once if the first cannot start its workers."""
    pool = LocalPool(workers)
    try:
        if not pool.start(n_up):
            pool.close(kill=True)
            pool = LocalPool(workers)
    except BaseException:  # Ctrl-C while the workers start: nobody else holds this pool to close it
        pool.close(kill=True)
        raise
    return pool


def close_pool(pool: LocalPool, *, kill: bool = False, grace: float = 5.0) -> None:
    """Close ``pool`` (once; a closed pool is left as it is): see :meth:`LocalPool.close`."""
    if not pool.closed:
        pool.close(kill=kill, grace=grace)


_OPEN_POOLS: set[LocalPool] = set()
if hasattr(os, "register_at_fork"):  # a forked worker must not take its parent's pools (and their workers) as its own
    os.register_at_fork(after_in_child=_OPEN_POOLS.clear)


def _close_open_pools() -> None:
    """At interpreter exit, before multiprocessing joins the child processes: any pool still open (a run that was
    interrupted where no ``finally`` could close it) is closed, its workers killed, so the exit cannot hang on
    them."""
    for pool in list(_OPEN_POOLS):
        pool.close(kill=True, grace=2.0)


atexit.register(_close_open_pools)  # after multiprocessing.util's hook (imported above): exit hooks run newest first
