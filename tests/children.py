"""Starting a child process a test will send Ctrl-C to."""

import signal


def default_sigint() -> None:
    """In the child, before it runs: Ctrl-C back to its default. Started from a background job (or by a CI runner
    that does so), the test process ignores SIGINT, and a child inherits that: it would never see the Ctrl-C.
    Give it as ``subprocess.Popen(..., preexec_fn=default_sigint)``."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
