"""The in-container side of a sandbox session: one long-lived process per container.

lambench starts this file with ``python3 -c`` through one ``docker exec`` whose stdin stays attached,
then sends one JSON request per line and reads one JSON reply per line.  Each shell step is then a
round trip on an open socket plus one ``bash`` started *inside* the container — no new ``docker exec``
(which costs a runtime call and a process set-up per step).  It uses the standard library only: it runs
under the image's ``python3``, never the harness's interpreter.

The shell session: before each command the saved working directory and exported environment are
restored, after it they are saved again (in ``SESSION_DIR``), so ``cd`` and ``export`` carry over and a
command killed by its timeout leaves the session as it was.  Output is read as it comes and only the
head and the tail are kept, so a command that floods its output cannot exhaust the driver's memory.
"""

import hashlib
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time

SESSION_DIR = "/tmp/.lambench-session"
HOME = os.environ.get("HOME", "/home/user")
SESSION = (
    '[ -f "$LB_SESSION/env" ] && . "$LB_SESSION/env"; '
    'cd "$(cat "$LB_SESSION/cwd" 2>/dev/null || echo "$HOME")" 2>/dev/null || cd "$HOME"; '
    'eval "$LB_CMD"; __lb_rc=$?; unset LB_CMD; '
    'mkdir -p "$LB_SESSION" && pwd > "$LB_SESSION/cwd" && export -p | grep -v " LB_SESSION=" > "$LB_SESSION/env"; '
    'exit $__lb_rc'
)


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


def run(argv, timeout, limit, env=None, cwd=None):
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, env=env, cwd=cwd, preexec_fn=_first_to_die)
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
    # children that outlived the command (backgrounded, or the group of a killed one)
    _kill_group(proc.pid)
    stdout, cut_out = out.text()
    stderr, cut_err = err.text()
    return {"exit_code": code if code >= 0 else 128 - code, "stdout": stdout, "stderr": stderr,
            "timed_out": timed_out, "seconds": round(time.monotonic() - t0, 4), "cut": cut_out + cut_err}


def op_shell(req):
    env = dict(os.environ, LB_CMD=req["cmd"], LB_SESSION=SESSION_DIR)
    res = run(["bash", "-c", SESSION], req["timeout"], req.get("limit", 16384), env=env, cwd=HOME)
    try:
        with open(SESSION_DIR + "/cwd") as f:
            res["cwd"] = f.read().strip() or HOME
    except OSError:
        res["cwd"] = HOME
    return res


def op_run(req):
    return run(["bash", "-c", req["cmd"]], req["timeout"], req.get("limit", 65536), cwd=req.get("cwd") or HOME)


def _hash(path):
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 16)
                if not b:
                    break
                h.update(b)
    except OSError as exc:
        return "unreadable:" + type(exc).__name__
    return h.hexdigest()[:24]


def op_manifest(req):
    """Every file, directory and symlink under the roots: path -> [kind, mode, content hash or target]."""
    out = {}
    skip = tuple(req.get("exclude", []))
    for root in req["roots"]:
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.startswith(skip):
                dirnames[:] = []
                continue
            for name in list(dirnames) + filenames:
                p = os.path.join(dirpath, name)
                if p.startswith(skip):
                    continue
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                mode = format(stat.S_IMODE(st.st_mode), "o")
                if stat.S_ISLNK(st.st_mode):
                    out[p] = ["link", mode, os.readlink(p)]
                elif stat.S_ISDIR(st.st_mode):
                    out[p] = ["dir", mode, ""]
                elif stat.S_ISREG(st.st_mode):
                    out[p] = ["file", mode, _hash(p)]
                else:
                    out[p] = ["other", mode, ""]
    return {"manifest": out}


def op_read(req):
    p = req["path"]
    try:
        st = os.lstat(p)
    except OSError:
        return {"kind": None}
    mode = format(stat.S_IMODE(st.st_mode), "o")
    if stat.S_ISDIR(st.st_mode):
        return {"kind": "dir", "mode": mode}
    if stat.S_ISLNK(st.st_mode):
        return {"kind": "link", "mode": mode, "target": os.readlink(p)}
    if not stat.S_ISREG(st.st_mode):
        return {"kind": "other", "mode": mode}
    try:
        with open(p, "rb") as f:
            data = f.read(req.get("limit", 1 << 20))
    except OSError as exc:
        return {"kind": "file", "mode": mode, "text": "", "sha": "unreadable:" + type(exc).__name__,
                "error": str(exc)}
    return {"kind": "file", "mode": mode, "text": data.decode("utf-8", "replace"), "sha": _hash(p)}


def op_setup(req):
    """Directories, then files (parents created), then modes."""
    for d in req.get("dirs", []):
        os.makedirs(d, exist_ok=True)
    for p, text in req.get("files", {}).items():
        os.makedirs(os.path.dirname(p) or "/", exist_ok=True)
        with open(p, "a" if p in req.get("append", []) else "w", encoding="utf-8") as f:
            f.write(text)
    for p, mode in req.get("modes", {}).items():
        os.chmod(p, int(mode, 8))
    return {}


def _connect(req):
    if req.get("write"):
        con = sqlite3.connect(req["db"], timeout=5)
    else:
        con = sqlite3.connect("file:%s?mode=ro" % req["db"], uri=True, timeout=5)
    return con


def op_sql(req):
    con = _connect(req)
    try:
        if req.get("script"):
            con.executescript(req["script"])
            con.commit()
            return {"rows": []}
        cur = con.execute(req["query"], req.get("params", []))
        rows = [list(r) for r in cur.fetchmany(req.get("limit", 10000))]
        if req.get("write"):
            con.commit()
        return {"rows": rows, "columns": [d[0] for d in cur.description or []]}
    finally:
        con.close()


def op_dump(req):
    """Every row of every table, keyed ``table:id``."""
    con = _connect(req)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        out = {}
        for t in tables:
            cur = con.execute('SELECT * FROM "%s"' % t.replace('"', '""'))
            cols = [d[0] for d in cur.description]
            for i, row in enumerate(cur):
                rec = dict(zip(cols, row))
                out["%s:%s" % (t, rec.get("id", "#%d" % i))] = rec
        return {"rows": out}
    finally:
        con.close()


def op_http(req):
    """A real HTTP request to the application server inside this container."""
    import urllib.error
    import urllib.request

    body = req.get("body")
    data = None if body is None else body.encode("utf-8")
    r = urllib.request.Request("http://127.0.0.1:%d%s" % (req["port"], req["path"]), data=data,
                               method=req["method"], headers=req.get("headers", {}))
    try:
        with urllib.request.urlopen(r, timeout=req.get("timeout", 30)) as resp:
            status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read(1 << 22)
    except urllib.error.HTTPError as exc:
        status, ctype, raw = exc.code, exc.headers.get("Content-Type", ""), exc.read(1 << 22)
    return {"status": status, "content_type": ctype, "body": raw.decode("utf-8", "replace")}


def op_wait_http(req):
    """Wait until the application answers ``path`` (its start-up)."""
    import urllib.request

    deadline = time.monotonic() + req.get("timeout", 30)
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (req["port"], req["path"]), timeout=2) as resp:
                return {"status": resp.status}
        except Exception as exc:
            last = str(exc)
            time.sleep(0.02)
    raise RuntimeError("the application did not answer %s within %ss (%s)" % (req["path"], req.get("timeout", 30), last))


OPS = {"http": op_http, "wait_http": op_wait_http, "shell": op_shell, "run": op_run, "manifest": op_manifest, "read": op_read, "setup": op_setup,
       "sql": op_sql, "dump": op_dump, "ping": lambda req: {}}


def main():
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            reply = OPS[req["op"]](req)
            reply["ok"] = True
        except Exception as exc:  # reported to the harness, which decides what it means
            reply = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
