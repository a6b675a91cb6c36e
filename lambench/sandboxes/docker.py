"""The Docker backend: hardened sandbox containers, offline image builds, and no leaked containers.

Every container lambench starts is hardened by default — no network (or, when a task needs one,
only an internal network), all capabilities dropped, ``no-new-privileges``, a read-only root
filesystem with a writable tmpfs workspace, a non-root user, PID, memory and CPU limits — and
carries labels naming the run and the owning process (pid and start time).  Containers are removed
when their sandbox closes, on exceptions, and at interpreter exit; :func:`prune` removes those
whose owner process is dead (a run killed with ``kill -9``) and never touches any other container.

Images are built from the build contexts under ``sandboxes/`` (one folder per image, each
Dockerfile taking ``ARG BASE_IMAGE``) and rebuilt only when the context changed (its content hash
is an image label).  The base is ``debian:bookworm-slim`` when it can be pulled; otherwise lambench
makes a minimal Debian base itself with ``debootstrap`` and ``docker import``, offline from the
Debian mirror.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lambench.errors import LambenchError

__all__ = ["DockerUnavailable", "Limits", "Container", "ExecOutput", "get_client", "prune", "owner_labels",
           "remove_owned", "claim_ownership", "Driver", "DriverError", "SessionError", "WarmPool", "warm_pool",
           "ensure_base_image", "build_images", "BASE_PACKAGES", "LABEL"]

LABEL = "dev.lambench"
PUBLIC_BASE = "debian:bookworm-slim"
BASE_TAG = "lambench/base:bookworm"
BASE_PACKAGES = ("bash", "coreutils", "findutils", "grep", "sed", "gawk", "tar", "gzip", "python3", "git",
                 "sqlite3", "procps", "ca-certificates")
"""What the offline base holds: enough for the shell and web-app sandboxes to build without a network."""
MAX_OUTPUT = 64 * 1024
MAX_REPLY = 64 * 1024 * 1024
"""Bytes of one reply of the in-container session at the most."""


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


# ---------------------------------------------------------------------------- ownership


def process_start(pid: int) -> str | None:
    """The start time of a live process (clock ticks since boot), which tells a live pid from a reused
    one; None when it is gone, or a zombie (dead, not yet reaped by its parent)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


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


# ---------------------------------------------------------------------------- containers


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox container."""

    memory: str = "512m"
    cpus: float = 1.0
    pids: int = 256
    workspace: str = "128m"
    """Size of the writable tmpfs workspace (``/work``)."""
    inodes: int = 20000
    """Files and directories each tmpfs (the workspace, ``/tmp``) can hold: a flood of empty files ends
    there, and the harness's manifest of them stays bounded."""
    command_timeout: float = 30.0
    """Seconds a command may run before it is killed (the harness goes on)."""


@dataclass
class ExecOutput:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    cwd: str = ""
    """The working directory after the command (shell sessions)."""


def _cut(data: bytes | None) -> str:
    text = (data or b"").decode("utf-8", errors="replace")
    if len(text) > MAX_OUTPUT:
        cut = len(text) - MAX_OUTPUT
        return text[: MAX_OUTPUT // 2] + f"\n[... {cut} characters cut ...]\n" + text[-MAX_OUTPUT // 2:]
    return text


_LIVE: set["Container"] = set()
_LIVE_LOCK = threading.Lock()
_CLOSING = threading.Event()
"""Set at interpreter exit: a container that a background thread starts after it is removed at once."""


_BACKGROUND: set[threading.Thread] = set()
"""Threads that start or remove containers: waited for at exit, so none is cut off half-way."""


def _background(target: Callable[[], Any], name: str) -> None:
    def run() -> None:
        try:
            target()
        finally:
            with _LIVE_LOCK:
                _BACKGROUND.discard(threading.current_thread())

    t = threading.Thread(target=run, daemon=True, name=name)
    with _LIVE_LOCK:
        _BACKGROUND.add(t)
    t.start()


def shutdown_pools() -> None:
    """Remove every container this process holds: warm pools, containers being started or removed."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()
    with _LIVE_LOCK:
        threads = list(_BACKGROUND)
    for t in threads:
        t.join(timeout=60)
    with _LIVE_LOCK:
        live = list(_LIVE)
    for c in live:
        c.close()


def _close_all() -> None:
    _CLOSING.set()
    shutdown_pools()
    with _SHARED_LOCK:
        for client in _SHARED:
            client.close()
        _SHARED.clear()
    with _LIVE_LOCK:
        live = list(_LIVE)
    for c in live:
        c.close()


atexit.register(_close_all)


def _forget_after_fork() -> None:
    """In a forked child (a pool worker forked from the run): the parent's clients, containers and pools are the
    parent's. The child starts its own; it must neither talk over the parent's connections nor remove its
    containers."""
    global _LIVE_LOCK, _POOLS_LOCK, _SHARED_LOCK
    _LIVE.clear()
    _BACKGROUND.clear()
    _POOLS.clear()
    _SHARED.clear()
    _LIVE_LOCK, _POOLS_LOCK, _SHARED_LOCK = threading.Lock(), threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)

_DRIVER_SRC = (Path(__file__).with_name("_driver.py")).read_text()


class SessionError(RuntimeError):
    """The in-container session broke (the container died or the driver was killed)."""


class Driver:
    """The host side of the in-container session (see ``_driver.py``): one ``docker exec`` kept open.

    Requests and replies are JSON lines over the exec's attached stdin/stdout; a shell step is a round
    trip on this socket, not a new ``docker exec``.
    """

    max_reply = MAX_REPLY
    """Bytes of one reply at the most: past it the session is broken off (a bounded buffer, never a crash)."""

    def __init__(self, container: "Container", *, timeout: float = 30.0):
        api = container.client.api
        self.container = container
        self._lock = threading.Lock()
        self._out = bytearray()
        self._scanned = 0
        self._err = bytearray()
        self._closed = False
        env = {**container.env, "LB_AGENT_UID": container.agent_uid}
        exec_id = api.exec_create(container.container.id, ["python3", "-u", "-c", _DRIVER_SRC], stdin=True,
                                  stdout=True, stderr=True, user=container.driver_user, workdir=container.workdir,
                                  environment=env)["Id"]
        self._exec_id = exec_id
        sock = api.exec_start(exec_id, socket=True)
        self._wrapper = sock
        self._sock = getattr(sock, "_sock", sock)
        hello = self._line(timeout)
        if not json.loads(hello).get("ready"):
            raise SessionError(f"the sandbox session did not start: {hello[:200]!r}")

    def request(self, op: str, *, wait: float = 30.0, **args: Any) -> dict[str, Any]:
        """Send one request; the reply (``SessionError`` if the session is gone, ``DriverError`` for a failed op)."""
        with self._lock:
            if self._closed:
                raise SessionError("the sandbox session is closed")
            try:
                self._sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
                reply = json.loads(self._line(wait))
            except (OSError, ValueError, EOFError) as exc:
                self._closed = True
                raise SessionError(f"the sandbox session broke during {op!r}: {type(exc).__name__}: {exc}"
                                   + self._err_tail()) from None
        if not reply.pop("ok", False):
            raise DriverError(reply.get("error", "unknown error"))
        return reply

    def _err_tail(self) -> str:
        tail = self._err[-600:].decode("utf-8", "replace").strip()
        return f" (driver stderr: {tail})" if tail else ""

    def _recv(self, n: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from the sandbox session in time")
            self._sock.settimeout(left)
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("the sandbox session ended (the container stopped or was removed)")
            buf += chunk
        return bytes(buf)

    def _line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (i := self._out.find(b"\n", self._scanned)) < 0:
            self._scanned = len(self._out)  # each byte is scanned once, however the reply is cut into frames
            header = self._recv(8, deadline)  # docker's multiplexed stream: 1 byte stream id, 3 pad, 4 size
            size = int.from_bytes(header[4:8], "big")
            if header[0] == 2:
                self._err += self._recv(size, deadline) if size else b""
                del self._err[:-4096]
                continue
            if len(self._out) + size > self.max_reply:
                raise ValueError(f"a reply of the sandbox session went over {self.max_reply} bytes")
            self._out += self._recv(size, deadline) if size else b""
        line = bytes(self._out[:i])
        del self._out[: i + 1]
        self._scanned = 0
        return line.decode("utf-8", "replace")

    def close(self) -> None:
        self._closed = True
        for s in (self._wrapper, self._sock):
            try:
                s.close()
            except Exception:
                pass


class DriverError(RuntimeError):
    """An operation of the in-container session failed (its message comes from inside the container)."""


class Container:
    """One hardened sandbox container (``with Container(image, run_id=...) as c: c.exec("ls")``).

    ``workdir`` is a writable tmpfs owned by the sandbox user (the agent's home for the shell
    sandbox); ``/tmp`` is another; the rest of the filesystem is read-only.  ``network="internal"``
    attaches the container to a network of its own with no route out (created and removed with it).
    """

    USER = "65534:65534"
    WORKDIR = "/work"
    JUDGE_CAPS = ("SETUID", "SETGID", "KILL", "DAC_READ_SEARCH")
    """What the harness's own process needs when it is apart from the agent: drop to the agent's uid for its
    commands (SETUID, SETGID), kill all of that uid's processes (KILL), read what the agent made unreadable
    (DAC_READ_SEARCH).  The agent's processes have none of them."""

    def __init__(self, image: str, *, run_id: str, limits: Limits = Limits(), network: str | None = None,
                 env: dict[str, str] | None = None, client: Any = None, workdir: str | None = None,
                 command: list[str] | None = None, tmpfs: dict[str, str] | None = None,
                 separate_judge: bool = False):
        if network not in (None, "internal"):
            raise ValueError(f"network must be None (no network) or 'internal', not {network!r}")
        self.image = image
        self.run_id = run_id
        self.limits = limits
        self.network = network
        self.workdir = workdir or self.WORKDIR
        self.user = self.USER
        """The agent's user (``docker exec`` runs as it)."""
        self.agent_uid = self.USER.split(":")[0]
        self.separate_judge = separate_judge
        """True: the container's init and the in-container session run as root with :data:`JUDGE_CAPS`, and
        everything the agent runs as :data:`USER` — out of reach of each other's signals, ``/proc`` and
        file descriptors.  False: everything runs as :data:`USER` (a sandbox where the agent runs no code)."""
        self.driver_user = "0:0" if separate_judge else self.USER
        self.command = command
        """The container's command (None: the image's own, e.g. the web app's server)."""
        self.extra_tmpfs = dict(tmpfs or {})
        self.env = {"HOME": self.workdir, "LANG": "C.UTF-8", "USER": "user", **(env or {})}
        self.client = client or shared_client()
        self.container: Any = None
        self._network: Any = None
        self._driver: Driver | None = None

    def start(self) -> "Container":
        lim = self.limits
        labels = owner_labels(self.run_id)
        tmpfs = {self.workdir: f"rw,exec,size={lim.workspace},nr_inodes={lim.inodes},uid=65534,gid=65534,mode=0755",
                 "/tmp": f"rw,exec,size=64m,nr_inodes={lim.inodes},mode=1777", **self.extra_tmpfs}
        kwargs: dict[str, Any] = dict(
            detach=True, init=True, labels=labels, hostname="sandbox",
            cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True,
            user="0:0" if self.separate_judge else self.USER,
            tmpfs=tmpfs, pids_limit=lim.pids, mem_limit=lim.memory, memswap_limit=lim.memory,
            nano_cpus=int(lim.cpus * 1e9), working_dir=self.workdir, environment=self.env)
        if self.separate_judge:
            kwargs["cap_add"] = list(self.JUDGE_CAPS)
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            if self.network is None:
                kwargs["network_mode"] = "none"
            else:
                self._network = self.client.networks.create(f"lambench-{os.urandom(6).hex()}", driver="bridge",
                                                             internal=True, labels=labels)
                kwargs["network"] = self._network.name
            self.container = self.client.containers.run(self.image, self.command, **kwargs)
        except BaseException:
            self.close()
            raise
        if _CLOSING.is_set():  # started while the interpreter was exiting
            self.close()
            raise SessionError("the harness is shutting down")
        return self

    @property
    def driver(self) -> Driver:
        """The container's session (started on first use)."""
        if self._driver is None:
            self._driver = Driver(self)
        return self._driver

    def exec(self, command: str, *, timeout: float | None = None, user: str | None = None) -> ExecOutput:
        """Run ``bash -c command`` through a new ``docker exec``; over the timeout it is killed (exit 137)."""
        limit = self.limits.command_timeout if timeout is None else timeout
        wrapped = ["timeout", "-s", "KILL", f"{limit:g}", "bash", "-c", command]
        api = self.client.api
        t0 = time.monotonic()
        exec_id = api.exec_create(self.container.id, wrapped, user=user or self.USER, workdir=self.workdir,
                                  environment=self.env)["Id"]
        out, err = api.exec_start(exec_id, demux=True)
        seconds = time.monotonic() - t0
        code = api.exec_inspect(exec_id).get("ExitCode")
        code = -1 if code is None else int(code)
        return ExecOutput(exit_code=code, stdout=_cut(out), stderr=_cut(err),
                          timed_out=code == 137 and seconds >= limit * 0.95, seconds=seconds)

    def shell(self, command: str, *, timeout: float | None = None, limit: int = MAX_OUTPUT) -> ExecOutput:
        """Run ``command`` in the container's shell session: ``cd`` and ``export`` carry over to the next one."""
        t = self.limits.command_timeout if timeout is None else timeout
        r = self.driver.request("shell", cmd=command, timeout=t, limit=limit, wait=t + 15)
        return _exec_output(r)

    def run(self, command: str, *, timeout: float = 10.0, limit: int = MAX_OUTPUT) -> ExecOutput:
        """Run ``bash -c command`` through the session, outside the shell session's state (for checks)."""
        r = self.driver.request("run", cmd=command, timeout=timeout, limit=limit, wait=timeout + 15)
        return _exec_output(r)

    def inspect(self) -> dict[str, Any]:
        return self.client.api.inspect_container(self.container.id)

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:  # already gone (pruned, or the engine restarted)
                pass
            self.container = None
        if self._network is not None:
            try:
                self._network.remove()
            except Exception:
                pass
            self._network = None
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> "Container":
        return self.start() if self.container is None else self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __hash__(self) -> int:
        return id(self)


def _exec_output(r: dict[str, Any]) -> ExecOutput:
    return ExecOutput(exit_code=int(r["exit_code"]), stdout=r["stdout"], stderr=r["stderr"],
                      timed_out=bool(r["timed_out"]), seconds=float(r["seconds"]), cwd=r.get("cwd", ""))


# ---------------------------------------------------------------------------- warm pools


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
        if self.size > 0 and not _CLOSING.is_set():
            _background(self._fill, "lambench-warm-pool")

    def get(self) -> Container:
        """A fresh, started container: a warm one if ready, else one started now."""
        with self._cond:
            if not self._ready and self._starting:  # one is on its way: usually quicker than a new one
                self._cond.wait_for(lambda: self._ready or not self._starting, timeout=60)
            c = self._ready.pop() if self._ready else None
            self._errors.clear()
        if c is None:
            c = self._make()
        self._refill_later()
        return c

    def release(self, c: Container) -> None:
        """Remove a used container (in the background: the next episode need not wait for it)."""
        if _CLOSING.is_set():
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


# ---------------------------------------------------------------------------- images


def _image_label(client: Any, tag: str, key: str) -> str | None:
    try:
        return (client.images.get(tag).labels or {}).get(key)
    except Exception:
        return None


def ensure_base_image(client: Any = None, *, log: Callable[[str], None] = print, allow_pull: bool = True) -> str:
    """The base image for the sandboxes: ``debian:bookworm-slim`` if it can be pulled, else one made here."""
    client = client or get_client()
    want = hashlib.sha256(" ".join(BASE_PACKAGES).encode()).hexdigest()[:16]
    if _image_label(client, BASE_TAG, f"{LABEL}.packages") == want:
        log(f"base image {BASE_TAG} is up to date (debootstrap, packages {want})")
        return BASE_TAG
    if allow_pull:
        try:
            client.images.pull(PUBLIC_BASE)
            log(f"base image: pulled {PUBLIC_BASE}")
            return PUBLIC_BASE
        except Exception as exc:
            log(f"cannot pull {PUBLIC_BASE} ({type(exc).__name__}); making a Debian base with debootstrap instead")
    if shutil.which("debootstrap") is None:
        raise DockerUnavailable("no base image: cannot pull debian:bookworm-slim and debootstrap is missing "
                                "(apt-get install -y debootstrap; it needs root), or build with --base-image")
    mirror = os.environ.get("LAMBENCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory(prefix="lambench-rootfs-") as root:
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", "bookworm", root, mirror]
        log("running " + " ".join(cmd))
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise DockerUnavailable(f"debootstrap failed ({res.returncode}): {res.stderr[-1500:] or res.stdout[-1500:]}")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        try:
            data = tar.stdout.read() if tar.stdout else b""
        finally:
            tar.wait()
        client.api.import_image_from_data(data, repository=BASE_TAG.split(":")[0], tag=BASE_TAG.split(":")[1],
                                          changes=[f"LABEL {LABEL}.packages={want}", "CMD [\"bash\"]"])
    log(f"base image: made {BASE_TAG} with debootstrap ({len(BASE_PACKAGES)} packages)")
    return BASE_TAG


def context_hash(path: Path) -> str:
    """Content hash of a build context (file names and bytes)."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def image_tag(name: str) -> str:
    return f"lambench/{name}:latest"


def build_images(root: str | os.PathLike = "sandboxes", *, client: Any = None, base_image: str | None = None,
                 log: Callable[[str], None] = print, names: list[str] | None = None) -> dict[str, str]:
    """Build (or keep, when unchanged) the image of every build context under ``root``; ``{name: tag}``."""
    client = client or get_client()
    root = Path(root)
    contexts = sorted(p.parent for p in root.glob("*/Dockerfile"))
    if names:
        contexts = [c for c in contexts if c.name in names]
    base = base_image or ensure_base_image(client, log=log)
    built = {}
    for ctx in contexts:
        tag = image_tag(ctx.name)
        h = context_hash(ctx) + ":" + hashlib.sha256(base.encode()).hexdigest()[:8]
        if _image_label(client, tag, f"{LABEL}.context") == h:
            log(f"{tag}: up to date")
        else:
            log(f"{tag}: building from {ctx} (base {base})")
            client.images.build(path=str(ctx), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True, forcerm=True,
                                labels={f"{LABEL}.context": h})
        built[ctx.name] = tag
    return built
