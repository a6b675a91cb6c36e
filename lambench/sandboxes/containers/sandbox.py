"""What the container sandboxes share: a container from a warm pool per episode, requests to its session, and
no undo."""

from __future__ import annotations

from typing import Any

from lambench.sandboxes.base import SandboxBroken, SandboxError, StateUnreadable
from lambench.sandboxes.containers.container import DriverError, SessionError

__all__ = ["ContainerSandbox"]


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
