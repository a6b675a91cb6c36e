"""Sandboxes: the worlds agents act in (the in-process mock OS; containers in later backends)."""

from lambench.sandboxes.base import ExecResult, Sandbox, SandboxError

__all__ = ["ExecResult", "Sandbox", "SandboxError"]
