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

The process control (running commands as the agent, sweeping its processes) is ``driver_procs.py``, sent
ahead of this file in the same program.
"""

import hashlib
import json
import os
import sqlite3
import stat
import sys
import time

if __name__ != "__main__":  # on the host; in the container the program holds driver_procs.py's source first
    from lambench.sandboxes.containers.driver_procs import SEPARATE, as_agent, in_child, run, sweep

SESSION_DIR = "/tmp/.lambench-session"
HOME = os.environ.get("HOME", "/home/user")
MAX_MANIFEST = 50000
"""Entries of a manifest at the most (the reply says ``truncated`` past it)."""
MAX_ROWS = 100000
"""Rows of a database dump at the most."""
CHECK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHECK_ENV = {
    # check commands must not run what the agent left in their way: no hooks or fsmonitor from a repo's
    # config, no startup file of the agent's for bash, a fixed PATH
    "GIT_CONFIG_COUNT": "3", "GIT_CONFIG_KEY_0": "core.hooksPath", "GIT_CONFIG_VALUE_0": "/dev/null",
    "GIT_CONFIG_KEY_1": "core.fsmonitor", "GIT_CONFIG_VALUE_1": "false",
    "GIT_CONFIG_KEY_2": "core.pager", "GIT_CONFIG_VALUE_2": "cat", "GIT_CONFIG_NOSYSTEM": "1",
}
SESSION = (
    '[ -f "$LB_SESSION/env" ] && . "$LB_SESSION/env"; '
    'cd "$(cat "$LB_SESSION/cwd" 2>/dev/null || echo "$HOME")" 2>/dev/null || cd "$HOME"; '
    'eval "$LB_CMD"; __lb_rc=$?; unset LB_CMD; '
    'mkdir -p "$LB_SESSION" && pwd > "$LB_SESSION/cwd" && export -p | grep -v " LB_SESSION=" > "$LB_SESSION/env"; '
    'exit $__lb_rc'
)


def read_small(path, limit):
    """The first ``limit`` bytes of a regular file, never following a link or blocking on a FIFO (None
    when ``path`` is not a regular file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], limit
        while left > 0:
            b = os.read(fd, min(left, 1 << 16))
            if not b:
                break
            chunks.append(b)
            left -= len(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def op_shell(req):
    env = dict(os.environ, LB_CMD=req["cmd"], LB_SESSION=SESSION_DIR)
    res = run(["bash", "-c", SESSION], req["timeout"], req.get("limit", 16384), env=env, cwd=HOME)
    cwd = read_small(SESSION_DIR + "/cwd", 4096)  # written by the agent's shell: small, regular, or ignored
    res["cwd"] = (cwd or b"").decode("utf-8", "replace").strip() or HOME
    return res


def op_run(req):
    """A command of the harness (task set-up, checks) as the agent's user, in a clean environment, with
    none of the agent's processes left to interfere (they are killed before and after it)."""
    sweep()
    env = {"PATH": CHECK_PATH, "HOME": HOME, "LANG": os.environ.get("LANG", "C.UTF-8"),
           "USER": os.environ.get("USER", "user"), **CHECK_ENV}
    return run(["bash", "-c", req["cmd"]], req["timeout"], req.get("limit", 65536), env=env,
               cwd=req.get("cwd") or HOME)


_COMPILED = {}


def op_python(req):
    """Harness code (standard library only, sent by the host: the secret scan) run in a child forked from this
    process — no interpreter to start, and with this process's rights, so what the agent made unreadable is
    read too — after every process of the agent is gone.  Its standard output (bounded) is the reply."""
    sweep()
    t0 = time.monotonic()
    limit = int(req.get("limit", 1 << 20))
    code_obj = _COMPILED.get(req["src"])
    if code_obj is None:  # compiled once here (with what it imports), inherited by every child
        import importlib

        for name in req.get("preload", []):
            importlib.import_module(name)
        code_obj = _COMPILED[req["src"]] = compile(req["src"], "<lambench>", "exec")

    def child(w):
        os.dup2(w, 1)
        sys.argv = ["lambench", req.get("arg", "")]
        try:
            exec(code_obj, {"__name__": "__main__"})
            sys.stdout.flush()
        except BaseException as exc:  # reported as the exit code (its text on the session's stderr)
            try:
                os.write(2, ("%s: %s\n" % (type(exc).__name__, exc)).encode("utf-8", "replace")[-2000:])
            except OSError:
                pass
            return 1
        return 0

    code, out, timed_out = in_child(child, timeout=float(req.get("timeout", 60)), limit=limit)
    return {"exit_code": code, "stdout": out.decode("utf-8", "replace"),
            "stderr": "" if code == 0 else "the harness's code failed (exit %d)" % code, "timed_out": timed_out,
            "seconds": round(time.monotonic() - t0, 4), "cut": 0}


def op_quiesce(req):
    """Before the judge: every process of the agent is gone."""
    return {"killed": sweep(), "separate": SEPARATE}


def _hash(path):
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return "unreadable:" + type(exc).__name__
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "unreadable:not-a-file"
        while True:
            b = os.read(fd, 1 << 16)
            if not b:
                break
            h.update(b)
    except OSError as exc:
        return "unreadable:" + type(exc).__name__
    finally:
        os.close(fd)
    return h.hexdigest()[:24]


def op_manifest(req):
    """Every file, directory and symlink under the roots: path -> [kind, mode, content hash or target]."""
    out = {}
    skip = tuple(req.get("exclude", []))
    most = min(int(req.get("max_entries", MAX_MANIFEST)), MAX_MANIFEST)
    for root in req["roots"]:
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.startswith(skip):
                dirnames[:] = []
                continue
            if len(out) + len(dirnames) + len(filenames) > most:
                return {"manifest": {}, "truncated": True, "max_entries": most}
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
        data = read_small(p, min(int(req.get("limit", 1 << 20)), 1 << 22))
    except OSError as exc:
        return {"kind": "file", "mode": mode, "text": "", "sha": "unreadable:" + type(exc).__name__,
                "error": str(exc)}
    if data is None:  # replaced meanwhile by something that is not a regular file
        return {"kind": "other", "mode": mode}
    return {"kind": "file", "mode": mode, "text": data.decode("utf-8", "replace"), "sha": _hash(p),
            "size": st.st_size}


def op_setup(req):
    """Directories, then files (parents created), then modes: as the agent's user, so they are its files."""
    return as_agent(_setup, req)


def _setup(req):
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
                if len(out) >= MAX_ROWS:
                    return {"rows": {}, "truncated": True, "max_rows": MAX_ROWS}
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
       "sql": op_sql, "dump": op_dump, "quiesce": op_quiesce, "python": op_python, "ping": lambda req: {"separate": SEPARATE}}


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
