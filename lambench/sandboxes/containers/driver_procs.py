"""The in-container driver's process control: commands run as the agent, bounded output, and no process of the
agent left behind.  Sent into the container ahead of ``driver.py`` as one ``python3 -c`` program (standard library
only, like it).

Integrity: where the container lets it (the shell sandbox), the driver runs as root with a handful of
capabilities and every command of the agent runs as ``LB_AGENT_UID`` (an unprivileged user with no
capabilities).  The agent's processes can then neither read the driver's file descriptors, nor signal,
trace or impersonate it: the channel the harness judges through is out of their reach.  After every
command all processes of the agent's uid are killed (a ``setsid`` or ``nohup`` job included), so nothing
the agent started runs between steps or while the checks read the state.  Every reply is bounded (output
cut, manifest entries, bytes read, rows).
"""

import json
import os
import select
import signal
import subprocess
import threading
import time

AGENT_UID = int(os.environ.get("LB_AGENT_UID", "65534"))
AGENT_GID = int(os.environ.get("LB_AGENT_GID", str(AGENT_UID)))
SEPARATE = os.geteuid() == 0 and AGENT_UID != 0
"""True when the agent's commands run under another uid than this driver (the driver runs as root)."""


class Capture:
    """Keeps the first and last ``limit // 2`` bytes of a stream and counts the rest."""

    def __init__(self, stream, limit):
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.half = limit // 2
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            self.total += len(chunk)
            room = self.half - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail += chunk
                if len(self.tail) > self.half:
                    del self.tail[: len(self.tail) - self.half]

    def text(self):
        self.thread.join(2)
        cut = self.total - len(self.head) - len(self.tail)
        head = self.head.decode("utf-8", "replace")
        if cut <= 0:
            return head + self.tail.decode("utf-8", "replace"), 0
        return (head + "\n[... output cut: %d bytes not shown ...]\n" % cut
                + self.tail.decode("utf-8", "replace")), cut


def _first_to_die():
    # the agent's commands, not this driver, are what the kernel's OOM killer should pick
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _kill_group(pgid):
    for _ in range(50):  # a fork bomb keeps forking while it is being killed
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            return
        time.sleep(0.01)


def _agent_pids():
    """Live processes with the agent's uid as their real, effective, saved or file-system uid."""
    pids, me, want = [], os.getpid(), str(AGENT_UID)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/status" % name, "rb") as f:
                status = f.read(4096).decode("ascii", "replace")
        except OSError:
            continue
        state, uids = "", []
        for line in status.splitlines():
            if line.startswith("State:"):
                state = line.split()[1] if len(line.split()) > 1 else ""
            elif line.startswith("Uid:"):
                uids = line.split()[1:]
        if state not in ("Z", "X") and want in uids:
            pids.append(int(name))
    return pids


def _become_agent():
    """This (forked) process drops to the agent's uid and gid, with no supplementary groups and no capabilities."""
    os.setgroups([])
    os.setgid(AGENT_GID)
    os.setuid(AGENT_UID)


def _kill_all_as_agent():
    """kill(-1, SIGKILL) from a child with the agent's uid: the kernel signals every process of that uid
    in one pass, which a fork bomb cannot outrun."""
    try:
        pid = os.fork()
    except OSError:  # the PID limit is reached: the loop in sweep() does it one by one
        return
    if pid == 0:
        try:
            _become_agent()
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def sweep(limit=10.0):
    """Kill every process of the agent (whatever its session or process group); how many were found.

    Only where the agent runs under its own uid: elsewhere the driver would be among them."""
    if not SEPARATE:
        return 0
    found, end = 0, time.monotonic() + limit
    while True:
        pids = _agent_pids()
        if not pids:
            return found
        if time.monotonic() > end:
            raise RuntimeError("%d process(es) of the agent survived %gs of SIGKILL" % (len(pids), limit))
        found += len(pids)
        _kill_all_as_agent()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.002)


def _as_agent_kwargs():
    if not SEPARATE:
        return {}
    return {"user": AGENT_UID, "group": AGENT_GID, "extra_groups": []}


def run(argv, timeout, limit, env=None, cwd=None):
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, env=env, cwd=cwd, preexec_fn=_first_to_die,
                                **_as_agent_kwargs())
    except OSError as exc:  # e.g. the PID limit is reached
        return {"exit_code": 126, "stdout": "", "stderr": "cannot start the command: %s" % exc,
                "timed_out": False, "seconds": round(time.monotonic() - t0, 4), "cut": 0}
    out, err = Capture(proc.stdout, limit), Capture(proc.stderr, limit)
    timed_out = False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        code = proc.wait()
    # children that outlived the command (backgrounded, in its group or not): with the agent under its
    # own uid, every process of that uid; otherwise the command's process group
    if SEPARATE:
        sweep()
    else:
        _kill_group(proc.pid)
    stdout, cut_out = out.text()
    stderr, cut_err = err.text()
    return {"exit_code": code if code >= 0 else 128 - code, "stdout": stdout, "stderr": stderr,
            "timed_out": timed_out, "seconds": round(time.monotonic() - t0, 4), "cut": cut_out + cut_err}


def as_agent(fn, req):
    """``fn(req)`` in a child process with the agent's uid (here, where the driver is not root)."""
    if not SEPARATE:
        return fn(req)

    def child(w):
        try:
            _become_agent()
            os.umask(0o022)
            out = {"ok": True, "reply": fn(req)}
        except BaseException as exc:
            out = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        os.write(w, json.dumps(out).encode())
        return 0

    _, data, _ = in_child(child)
    out = json.loads(data or b'{"ok": false, "error": "the set-up process died"}')
    if not out["ok"]:
        raise RuntimeError(out["error"])
    return out["reply"]


def in_child(body, timeout=None, limit=None):
    """``body(fd)`` in a forked child that writes its answer to ``fd`` and returns its exit code; here, what it
    wrote (the first ``limit`` bytes), how it exited, and whether it was killed at ``timeout`` seconds."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            code = body(w)
        finally:
            os._exit(code)
    os.close(w)
    out, timed_out = bytearray(), False
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            if left is not None and not select.select([r], [], [], left)[0]:
                continue
            b = os.read(r, 1 << 16)
            if not b:
                break
            if limit is None or len(out) < limit:
                out += b if limit is None else b[: limit - len(out)]
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return (code if code >= 0 else 128 - code), bytes(out), timed_out
