"""The Docker engine and who owns what in it: one client per process, the labels naming each container's run
and owner process, and the removal of containers whose owner is dead.

Every container (and network) lambench starts carries labels naming the run and the owning process (pid and
start time).  :func:`prune` removes those whose owner process is dead (a run killed with ``kill -9``) and never
touches any other container; :func:`remove_owned` removes this process's own.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable

from lambench.errors import LambenchError

__all__ = ["DockerUnavailable", "LABEL", "get_client", "shared_client", "close_shared_clients", "process_start",
           "run_id", "owner_labels", "claim_ownership", "prune", "remove_owned"]

LABEL = "dev.lambench"


class DockerUnavailable(LambenchError, RuntimeError):
    """No usable Docker engine; the message says how to get one."""


def get_client(timeout: float = 120.0) -> Any:
    """A connected Docker client, or :class:`DockerUnavailable` naming the fix."""
    try:
        import docker
    except ImportError:
        raise DockerUnavailable("container sandboxes need the docker SDK: pip install 'lambench[docker]'") from None
    client = None
    try:
        # a fixed API version (Docker 20.10+): "auto" would query the engine inside the constructor, and a
        # failure there leaks the connection where it cannot be closed
        client = docker.from_env(timeout=timeout, version=os.environ.get("LAMBENCH_DOCKER_API", "1.41"))
        client.ping()
    except Exception as exc:  # DockerException, connection refused, permission denied
        if client is not None:
            client.close()
        raise DockerUnavailable(
            f"cannot reach a Docker engine on {socket.gethostname()} ({type(exc).__name__}: {exc}). Install and "
            "start one: apt-get install -y docker.io && dockerd & (or set DOCKER_HOST); as a non-root user, join the "
            "'docker' group") from None
    return client


_SHARED: list[Any] = []
_SHARED_LOCK = threading.Lock()


def shared_client() -> Any:
    """One client (one connection pool) for all the sandbox containers of this process."""
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(get_client())
        return _SHARED[0]


def close_shared_clients() -> None:
    with _SHARED_LOCK:
        for client in _SHARED:
            client.close()
        _SHARED.clear()


# registered before the containers' and the pools' exit hooks (their modules import this one), so it runs after them
atexit.register(close_shared_clients)


def _forget_after_fork() -> None:
    """In a forked child: the parent's client is the parent's (the child must not talk over its connections)."""
    global _SHARED_LOCK
    _SHARED.clear()
    _SHARED_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


# ---------------------------------------------------------------------------- ownership


def process_start(pid: int) -> str | None:
    """The start time of a live process (clock ticks since boot), which tells a live pid from a reused
    one; None when it is gone, or a zombie (dead, not yet reaped by its parent)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def run_id() -> str:
    """The run the containers of this process belong to (set by the runner), for their labels."""
    return os.environ.get("LAMBENCH_RUN_ID", f"adhoc-{os.getpid()}")


def owner_labels(run_id: str) -> dict[str, str]:
    """The labels every lambench container carries.

    The owner is the process that runs the whole run: a runner sets ``LAMBENCH_OWNER_PID`` for its
    worker processes, so their containers belong to it (a worker killed mid-episode leaves its
    container to the run, which removes it at the end; a killed run leaves orphans to the next one).
    """
    pid = int(os.environ.get("LAMBENCH_OWNER_PID") or os.getpid())
    start = process_start(pid) or ""
    if pid != os.getpid() and start != os.environ.get("LAMBENCH_OWNER_START", start):
        pid, start = os.getpid(), process_start(os.getpid()) or ""  # a stale variable: own the container here
    return {f"{LABEL}.run": run_id, f"{LABEL}.owner_pid": str(pid),
            f"{LABEL}.owner_start": start, f"{LABEL}.owner_host": socket.gethostname()}


def claim_ownership() -> None:
    """Make this process the owner of every container its child processes start (the runner calls it)."""
    os.environ["LAMBENCH_OWNER_PID"] = str(os.getpid())
    os.environ["LAMBENCH_OWNER_START"] = process_start(os.getpid()) or ""


def _owner_alive(labels: dict[str, str]) -> bool:
    if labels.get(f"{LABEL}.owner_host") not in (None, socket.gethostname()):
        return True  # another machine's run (a shared engine): never ours to judge
    try:
        pid = int(labels.get(f"{LABEL}.owner_pid", ""))
    except ValueError:
        return True
    start = process_start(pid)
    return start is not None and start == labels.get(f"{LABEL}.owner_start")


def prune(client: Any = None) -> list[str]:
    """Remove lambench containers (and networks) whose owner process is dead; return their names.

    Nothing without lambench's owner labels is ever touched."""
    client = client or get_client()
    flt = {"label": f"{LABEL}.owner_pid"}
    return _remove(client, flt, keep=_owner_alive)


def _remove(client: Any, flt: dict[str, Any], keep: Callable[[dict[str, str]], bool] = lambda labels: False
            ) -> list[str]:
    """Remove the containers, then the networks, that match ``flt`` and that ``keep`` does not keep."""
    removed = []
    # sparse listings: no inspect per container, which would race with containers being removed meanwhile
    for c in client.containers.list(all=True, sparse=True, filters=flt):
        if not keep(c.attrs.get("Labels") or {}):
            try:
                c.remove(force=True)
                removed.append((c.attrs.get("Names") or [c.id[:12]])[0].lstrip("/"))
            except Exception:  # already gone
                pass
    for n in client.networks.list(filters=flt):
        if not keep(n.attrs.get("Labels") or {}):
            try:
                n.remove()
                removed.append(n.name)
            except Exception:
                pass
    return removed


def remove_owned(run_id: str | None = None, client: Any = None) -> list[str]:
    """Remove the containers (and networks) this process owns, of one run or all (end of a run, signals)."""
    client = client or get_client()
    want = {f"{LABEL}.owner_pid": str(os.getpid()), f"{LABEL}.owner_start": process_start(os.getpid()) or ""}
    if run_id is not None:
        want[f"{LABEL}.run"] = run_id
    return _remove(client, {"label": [f"{k}={v}" for k, v in want.items()]})
