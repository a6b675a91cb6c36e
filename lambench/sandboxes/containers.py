"""What the container sandboxes (shell, web app) share: images on demand, run ownership, live state.

The state of a container sandbox lives in the container, so checks and safety rules read it there:
:class:`LiveFs` reads one file when a predicate asks for it, :class:`FrozenFs` holds the manifest of
the start of the episode (kind, mode and content hash of every path) for collateral-damage diffs and
``file_unchanged``.  Nodes compare by kind, mode and content hash, whichever side they come from.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable

from lambench.sandboxes.base import SandboxBroken, SandboxError, StateUnreadable

__all__ = ["Node", "LiveFs", "FrozenFs", "run_id", "image_for", "prepare_images", "ContainerSandbox",
           "CONTAINER_SANDBOXES"]

CONTAINER_SANDBOXES = {"shell": "shell", "webapp": "webapp"}
"""Sandbox name -> build context (image) name under ``sandboxes/``."""

_READY: set[str] = set()
_READY_LOCK = threading.RLock()


def run_id() -> str:
    """The run the containers of this process belong to (set by the runner), for their labels."""
    return os.environ.get("LAMBENCH_RUN_ID", f"adhoc-{os.getpid()}")


def _sandboxes_root():
    from pathlib import Path

    env = os.environ.get("LAMBENCH_SANDBOXES")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2] / "sandboxes"
    return here


def image_for(sandbox: str) -> str:
    """The image tag of a container sandbox, built (or found up to date) once per process."""
    from lambench.sandboxes.docker import image_tag

    name = CONTAINER_SANDBOXES[sandbox]
    tag = image_tag(name)
    with _READY_LOCK:
        if name not in _READY:
            prepare_images([sandbox], log=lambda m: print(f"lambench: {m}", file=sys.stderr))
            _READY.add(name)
    return tag


def prepare_images(sandboxes: list[str], *, log: Callable[[str], None] = print) -> None:
    """Prune orphans of killed runs, then build the images of these sandboxes unless they are up to date."""
    from lambench.sandboxes.docker import DockerUnavailable, build_images, get_client, prune

    names = sorted({CONTAINER_SANDBOXES[s] for s in sandboxes if s in CONTAINER_SANDBOXES})
    if not names:
        return
    client = get_client()
    try:
        gone = prune(client)
        if gone:
            log(f"removed {len(gone)} container(s)/network(s) left by killed runs")
        root = _sandboxes_root()
        if not (root / names[0] / "Dockerfile").is_file():
            # an installed package without the build contexts: the images must exist already
            missing = [n for n in names if not client.images.list(name=f"lambench/{n}")]
            if missing:
                raise DockerUnavailable(f"image(s) {', '.join('lambench/' + n for n in missing)} missing and no "
                                        f"build context found; set LAMBENCH_SANDBOXES to the repo's sandboxes/ "
                                        f"folder and run `lambench sandboxes build`")
            return
        try:  # "up to date" lines would be noise on every run
            build_images(root, client=client, names=names, log=lambda m: None if "up to date" in m else log(m))
        except DockerUnavailable:
            raise
        except Exception as exc:  # a failing Dockerfile: the engine's message is the useful part
            raise DockerUnavailable(f"building the image(s) {', '.join('lambench/' + n for n in names)} failed: "
                                    f"{type(exc).__name__}: {exc}. Fix the Dockerfile under {root}, then "
                                    f"`lambench sandboxes build` shows the whole build log") from None
    finally:
        client.close()
    with _READY_LOCK:
        _READY.update(names)


class ContainerSandbox:
    """What the shell and web-app sandboxes share: a container from a warm pool per episode, requests
    to its session, and no undo (guard mode needs a sandbox that can roll an action back)."""

    name = "container"
    label = "container"

    def __init__(self) -> None:
        self.c: Any = None
        self._pool: Any = None

    def _request(self, op: str, **args: Any) -> dict[str, Any]:
        """One request to the container's session.

        A session that breaks while the container still runs is :class:`SandboxBroken` (the agent's doing
        once it has acted); one whose container is gone or whose engine does not answer is an infrastructure
        :class:`SandboxError`; an operation that fails on the state is :class:`StateUnreadable`."""
        from lambench.sandboxes.docker import DriverError, SessionError

        if self.c is None:
            raise SandboxError(f"the {self.label} sandbox is not running (reset() first)")
        try:
            reply = self.c.driver.request(op, **args)
        except SessionError as exc:
            raise self.session_failed(op, exc) from None
        except DriverError as exc:
            raise StateUnreadable(f"{self.label} sandbox ({op}): {exc}") from None
        if reply.get("truncated"):
            bound = reply.get("max_entries") or reply.get("max_rows")
            raise StateUnreadable(f"{self.label} sandbox ({op}): the state holds over {bound} entries, more than "
                                  f"the harness reads; it cannot be verified")
        return reply

    def session_failed(self, op: str, exc: BaseException) -> SandboxError:
        """What a broken session means: :class:`SandboxBroken` while the container still runs (or was
        killed for memory), an infrastructure :class:`SandboxError` when it is gone or the engine is down."""
        where = f"{self.label} sandbox ({op}): {exc}"
        try:
            state = self.c.inspect().get("State") or {}
        except Exception as err:  # the container is gone (removed from outside) or the engine does not answer
            return SandboxError(f"{where}; the container is gone ({type(err).__name__})")
        if state.get("Running") or state.get("OOMKilled"):
            return SandboxBroken(f"{where}; the container still ran"
                                 + (" (killed for memory)" if state.get("OOMKilled") else ""))
        return SandboxError(f"{where}; the container stopped ({state.get('Status', 'unknown')})")

    def ping(self) -> None:
        """A round trip to the session (raises as :meth:`_request` does when it is broken)."""
        self._request("ping", wait=15)

    def quiesce(self) -> int:
        """Kill every process the agent started (before the judge reads the state); how many there were."""
        if self.c is None:
            return 0
        return int(self._request("quiesce", wait=30).get("killed", 0))

    def changes(self, initial: dict[str, Any] | None = None) -> list[str]:
        from lambench.predicate import diff_states

        return diff_states(initial or self.initial_state(), self.state())

    def snapshot(self) -> Any:
        raise SandboxError(f"guard mode (undoing an action) is not available in the {self.label} sandbox: "
                           "its effects cannot be rolled back; run without --guard")

    def restore(self, snapshot: Any) -> None:
        raise SandboxError(f"the {self.label} sandbox cannot restore snapshots")

    def close(self) -> None:
        """Hand the container back for removal (in the background: the next episode need not wait)."""
        if self.c is not None:
            c, self.c = self.c, None
            if self._pool is not None:
                self._pool.release(c)
            else:
                c.close()

    # implemented by each sandbox
    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def initial_state(self) -> dict[str, Any]:
        raise NotImplementedError


class Node(dict):
    """A file-system node: ``kind`` (file, dir, link), ``mode``, ``sha`` (and ``text`` when read live)."""

    def _key(self) -> tuple:
        return self.get("kind"), self.get("mode"), self.get("sha"), self.get("target")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            return self._key() == Node(other)._key()
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None  # type: ignore[assignment]


def manifest_node(entry: list[Any]) -> Node:
    kind, mode, extra = entry
    node = Node(kind=kind, mode=mode)
    if kind == "file":
        node["sha"] = extra
    elif kind == "link":
        node["target"] = extra
    return node


class FrozenFs:
    """The file system as it was (from a manifest): ``get(path)`` -> :class:`Node` or None."""

    def __init__(self, manifest: dict[str, list[Any]]):
        self.manifest = manifest

    def get(self, path: str, default: Any = None) -> Any:
        entry = self.manifest.get(path.rstrip("/") or "/")
        return default if entry is None else manifest_node(entry)

    def items(self):
        return ((p, manifest_node(e)) for p, e in self.manifest.items())


class LiveFs:
    """The container's file system now: ``get(path)`` reads the node (and a file's text) on demand."""

    def __init__(self, read: Callable[[str], dict[str, Any]], manifest: Callable[[], dict[str, list[Any]]]):
        self._read = read
        self._manifest = manifest

    def get(self, path: str, default: Any = None) -> Any:
        r = self._read(path.rstrip("/") or "/")
        if not r.get("kind"):
            return default
        node = Node(kind=r["kind"], mode=r["mode"])
        if r["kind"] == "file":
            node["sha"] = r.get("sha")
            node["text"] = r.get("text", "")
        elif r["kind"] == "link":
            node["target"] = r.get("target")
        return node

    def items(self):
        return ((p, manifest_node(e)) for p, e in self._manifest().items())
