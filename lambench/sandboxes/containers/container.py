"""Hardened sandbox containers, and the host side of the session each one runs.

Every container lambench starts is hardened by default — no network (or, when a task needs one,
only an internal network), all capabilities dropped, ``no-new-privileges``, a read-only root
filesystem with a writable tmpfs workspace, a non-root user, PID, memory and CPU limits — and
carries the owner labels of :mod:`lambench.sandboxes.containers.client`.  Containers are removed
when their sandbox closes, on exceptions, and at interpreter exit.

The harness talks to a container through one long-lived session process inside it (the driver,
:mod:`lambench.sandboxes.containers.driver`): JSON requests and replies, one per line.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambench.sandboxes.containers.client import owner_labels, shared_client

__all__ = ["Limits", "ExecOutput", "Container", "Driver", "DriverError", "SessionError", "MAX_OUTPUT",
           "CLOSING", "close_live"]

MAX_OUTPUT = 64 * 1024
MAX_REPLY = 64 * 1024 * 1024
"""Bytes of one reply of the in-container session at the most."""


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
CLOSING = threading.Event()
"""Set at interpreter exit: a container that a background thread starts after it is removed at once."""


def close_live() -> None:
    """Remove every container of this process that is still running."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for c in live:
        c.close()


def _close_at_exit() -> None:
    CLOSING.set()
    close_live()


atexit.register(_close_at_exit)


def _forget_after_fork() -> None:
    """In a forked child (a pool worker forked from the run): the parent's containers are the parent's; the child
    must not remove them."""
    global _LIVE_LOCK
    _LIVE.clear()
    _LIVE_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)

# the driver's program: its process control, then its operations and request loop (one stdlib-only source)
DRIVER_SOURCE = "".join((Path(__file__).with_name(f).read_text() for f in ("driver_procs.py", "driver.py")))


class SessionError(RuntimeError):
    """The in-container session broke (the container died or the driver was killed)."""


class Driver:
    """The host side of the in-container session (see ``driver.py``): one ``docker exec`` kept open.

    Requests and replies are JSON lines over the exec's attached stdin/stdout; a shell step is a round
    trip on this socket, not a new ``docker exec``.
    """

    max_reply = MAX_REPLY
    """Bytes of one reply at the most: past it the session is broken off (a bounded buffer, never a crash)."""

    def __init__(self, container: "Container", *, timeout: float = 30.0, source: str | None = None,
                 user: str | None = None):
        """``source``: another program speaking the same protocol (default: the container driver), run as ``user``
        (default: the container's driver user)."""
        api = container.client.api
        self.container = container
        self._lock = threading.Lock()
        self._out = bytearray()
        self._scanned = 0
        self._err = bytearray()
        self._closed = False
        env = {**container.env, "LB_AGENT_UID": container.agent_uid}
        exec_id = api.exec_create(container.container.id, ["python3", "-u", "-c", source or DRIVER_SOURCE],
                                  stdin=True, stdout=True, stderr=True, user=user or container.driver_user,
                                  workdir=container.workdir, environment=env)["Id"]
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
        self.sessions: list[Driver] = []
        """Other sessions a sandbox opened in the container (closed with it)."""

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
        if CLOSING.is_set():  # started while the interpreter was exiting
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
        for session in self.sessions:
            session.close()
        self.sessions = []
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

