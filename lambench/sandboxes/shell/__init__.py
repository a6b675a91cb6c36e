"""The shell sandbox: a real Linux home directory in a container, driven by shell commands."""

from lambench.sandboxes.shell.sandbox import HOME, SKELETON, ShellSandbox

__all__ = ["ShellSandbox", "HOME", "SKELETON"]
