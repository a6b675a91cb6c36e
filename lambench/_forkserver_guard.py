"""Imported (preloaded) only by the multiprocessing fork server of a run's worker pool: the server
then dies with the run's process, even after ``kill -9``, and its workers with it. Never import it
elsewhere: it ties the importing process to its parent's life."""

import signal

try:
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
except (OSError, AttributeError):  # not Linux: the workers' watchdogs still end them
    pass
