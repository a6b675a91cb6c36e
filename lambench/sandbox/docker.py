"""The Docker backend: hardened sandbox containers, offline image builds, and no leaked containers.

Every container lambench starts is hardened by default — no network (or, when a task needs one,
only an internal network), all capabilities dropped, ``no-new-privileges``, a read-only root
filesystem with a writable tmpfs workspace, a non-root user, PID, memory and CPU limits — and
carries labels naming the run and the owning process (pid and start time).  Containers are removed
when their sandbox closes, on exceptions, and at interpreter exit; :func:`prune` removes those
whose owner process is dead (a run killed with ``kill -9``) and never touches any other container.

Images are built from the build contexts under ``sandboxes/`` (one folder per image, each
Dockerfile taking ``ARG BASE_IMAGE``) and rebuilt only when the context changed (its content hash
is an image label).  The base is ``debian:bookworm-slim`` when it can be pulled; otherwise lambench
makes a minimal Debian base itself with ``debootstrap`` and ``docker import``, offline from the
Debian mirror.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["DockerUnavailable", "Limits", "Container", "ExecOutput", "get_client", "prune", "owner_labels",
           "ensure_base_image", "build_images", "BASE_PACKAGES", "LABEL"]

LABEL = "dev.lambench"
PUBLIC_BASE = "debian:bookworm-slim"
BASE_TAG = "lambench/base:bookworm"
BASE_PACKAGES = ("bash", "coreutils", "findutils", "grep", "sed", "gawk", "tar", "gzip", "python3", "git",
                 "sqlite3", "procps", "ca-certificates")
"""What the offline base holds: enough for the shell and web-app sandboxes to build without a network."""
MAX_OUTPUT = 64 * 1024


class DockerUnavailable(RuntimeError):
    """No usable Docker engine; the message says how to get one."""


def get_client(timeout: float = 120.0) -> Any:
    """A connected Docker client, or :class:`DockerUnavailable` naming the fix."""
    try:
        import docker
    except ImportError:
        raise DockerUnavailable("container sandboxes need the docker SDK: pip install 'lambench[docker]'") from None
    client = None
    try:
        # a fixed API version (Docker 20.10+): "auto" would query the engine inside the constructor, and a
        # failure there leaks the connection where it cannot be closed
        client = docker.from_env(timeout=timeout, version=os.environ.get("LAMBENCH_DOCKER_API", "1.41"))
        client.ping()
    except Exception as exc:  # DockerException, connection refused, permission denied
        if client is not None:
            client.close()
        raise DockerUnavailable(
            f"cannot reach a Docker engine ({type(exc).__name__}: {exc}). Install and start one: "
            "apt-get install -y docker.io && dockerd & (or set DOCKER_HOST); as a non-root user, join the "
            "'docker' group") from None
    return client


# ---------------------------------------------------------------------------- ownership


def _start_time(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot), which tells a live pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_labels(run_id: str) -> dict[str, str]:
    """The labels every lambench container carries."""
    return {f"{LABEL}.run": run_id, f"{LABEL}.owner_pid": str(os.getpid()),
            f"{LABEL}.owner_start": _start_time(os.getpid()) or "", f"{LABEL}.owner_host": socket.gethostname()}


def _owner_alive(labels: dict[str, str]) -> bool:
    if labels.get(f"{LABEL}.owner_host") not in (None, socket.gethostname()):
        return True  # another machine's run (a shared engine): never ours to judge
    try:
        pid = int(labels.get(f"{LABEL}.owner_pid", ""))
    except ValueError:
        return True
    start = _start_time(pid)
    return start is not None and start == labels.get(f"{LABEL}.owner_start")


def prune(client: Any = None) -> list[str]:
    """Remove lambench containers whose owner process is dead; return their names. Others are never touched."""
    client = client or get_client()
    removed = []
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}.owner_pid"}):
        if not _owner_alive(c.labels):
            try:
                c.remove(force=True)
                removed.append(c.name)
            except Exception:  # already gone
                pass
    return removed


# ---------------------------------------------------------------------------- containers


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox container."""

    memory: str = "512m"
    cpus: float = 1.0
    pids: int = 256
    workspace: str = "128m"
    """Size of the writable tmpfs workspace (``/work``)."""
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


_STATE = "/work/.lambench-shell"
_SESSION = (
    # one shell session across commands: the working directory and the exported environment are
    # saved after every command and restored before the next (a killed command leaves them as they were)
    f'[ -f {_STATE}/env ] && . {_STATE}/env; cd "$(cat {_STATE}/cwd 2>/dev/null || echo /work)" 2>/dev/null || cd /work; '
    'eval "$LAMBENCH_CMD"; __lambench_rc=$?; unset LAMBENCH_CMD; '
    f'mkdir -p {_STATE} && pwd > {_STATE}/cwd && export -p > {_STATE}/env; exit $__lambench_rc'
)


def _cut(data: bytes | None) -> str:
    text = (data or b"").decode("utf-8", errors="replace")
    if len(text) > MAX_OUTPUT:
        cut = len(text) - MAX_OUTPUT
        return text[: MAX_OUTPUT // 2] + f"\n[... {cut} characters cut ...]\n" + text[-MAX_OUTPUT // 2:]
    return text


_LIVE: set["Container"] = set()
_LIVE_LOCK = threading.Lock()


def _close_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for c in live:
        c.close()


atexit.register(_close_all)


class Container:
    """One hardened sandbox container (``with Container(image, run_id=...) as c: c.exec("ls")``)."""

    USER = "65534:65534"
    WORKDIR = "/work"

    def __init__(self, image: str, *, run_id: str, limits: Limits = Limits(), network: str | None = None,
                 env: dict[str, str] | None = None, client: Any = None):
        self.image = image
        self.run_id = run_id
        self.limits = limits
        self.network = network
        self.env = {"HOME": self.WORKDIR, "LANG": "C.UTF-8", **(env or {})}
        self.client = client or get_client()
        self.container: Any = None

    def start(self) -> "Container":
        lim = self.limits
        kwargs: dict[str, Any] = dict(
            detach=True, init=True, labels=owner_labels(self.run_id), hostname="sandbox",
            cap_drop=["ALL"], security_opt=["no-new-privileges"], read_only=True, user=self.USER,
            tmpfs={self.WORKDIR: f"rw,size={lim.workspace},uid=65534,gid=65534,mode=0755",
                   "/tmp": "rw,size=64m,mode=1777"},
            pids_limit=lim.pids, mem_limit=lim.memory, memswap_limit=lim.memory, nano_cpus=int(lim.cpus * 1e9),
            working_dir=self.WORKDIR, environment=self.env)
        if self.network is None:
            kwargs["network_mode"] = "none"
        else:
            kwargs["network"] = self.network
        self.container = self.client.containers.run(self.image, ["sleep", "infinity"], **kwargs)
        with _LIVE_LOCK:
            _LIVE.add(self)
        return self

    def exec(self, command: str, *, timeout: float | None = None, user: str | None = None) -> ExecOutput:
        """Run ``bash -c command`` in the workspace; a command over the timeout is killed (exit 137)."""
        limit = self.limits.command_timeout if timeout is None else timeout
        wrapped = ["timeout", "-s", "KILL", f"{limit:g}", "bash", "-c", command]
        api = self.client.api
        t0 = time.monotonic()
        exec_id = api.exec_create(self.container.id, wrapped, user=user or self.USER, workdir=self.WORKDIR,
                                  environment=self.env)["Id"]
        out, err = api.exec_start(exec_id, demux=True)
        seconds = time.monotonic() - t0
        code = api.exec_inspect(exec_id).get("ExitCode")
        code = -1 if code is None else int(code)
        return ExecOutput(exit_code=code, stdout=_cut(out), stderr=_cut(err),
                          timed_out=code == 137 and seconds >= limit * 0.95, seconds=seconds)

    def shell(self, command: str, *, timeout: float | None = None) -> ExecOutput:
        """Run ``command`` in the episode's shell session: ``cd`` and ``export`` carry over to the next one."""
        limit = self.limits.command_timeout if timeout is None else timeout
        script = _SESSION
        api = self.client.api
        t0 = time.monotonic()
        exec_id = api.exec_create(self.container.id, ["timeout", "-s", "KILL", f"{limit:g}", "bash", "-c", script],
                                  user=self.USER, workdir=self.WORKDIR,
                                  environment={**self.env, "LAMBENCH_CMD": command})["Id"]
        out, err = api.exec_start(exec_id, demux=True)
        seconds = time.monotonic() - t0
        code = api.exec_inspect(exec_id).get("ExitCode")
        code = -1 if code is None else int(code)
        cwd = self.exec(f"cat {_STATE}/cwd 2>/dev/null || echo /work", timeout=10).stdout.strip() or "/work"
        return ExecOutput(exit_code=code, stdout=_cut(out), stderr=_cut(err),
                          timed_out=code == 137 and seconds >= limit * 0.95, seconds=seconds, cwd=cwd)

    def inspect(self) -> dict[str, Any]:
        return self.client.api.inspect_container(self.container.id)

    def close(self) -> None:
        if self.container is not None:
            try:
                self.container.remove(force=True)
            except Exception:  # already gone (pruned, or the engine restarted)
                pass
            self.container = None
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> "Container":
        return self.start() if self.container is None else self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __hash__(self) -> int:
        return id(self)


# ---------------------------------------------------------------------------- images


def _image_label(client: Any, tag: str, key: str) -> str | None:
    try:
        return (client.images.get(tag).labels or {}).get(key)
    except Exception:
        return None


def ensure_base_image(client: Any = None, *, log: Callable[[str], None] = print, allow_pull: bool = True) -> str:
    """The base image for the sandboxes: ``debian:bookworm-slim`` if it can be pulled, else one made here."""
    client = client or get_client()
    want = hashlib.sha256(" ".join(BASE_PACKAGES).encode()).hexdigest()[:16]
    if _image_label(client, BASE_TAG, f"{LABEL}.packages") == want:
        log(f"base image {BASE_TAG} is up to date (debootstrap, packages {want})")
        return BASE_TAG
    if allow_pull:
        try:
            client.images.pull(PUBLIC_BASE)
            log(f"base image: pulled {PUBLIC_BASE}")
            return PUBLIC_BASE
        except Exception as exc:
            log(f"cannot pull {PUBLIC_BASE} ({type(exc).__name__}); making a Debian base with debootstrap instead")
    if shutil.which("debootstrap") is None:
        raise DockerUnavailable("no base image: cannot pull debian:bookworm-slim and debootstrap is missing "
                                "(apt-get install -y debootstrap; it needs root), or build with --base-image")
    mirror = os.environ.get("LAMBENCH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    with tempfile.TemporaryDirectory(prefix="lambench-rootfs-") as root:
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", "bookworm", root, mirror]
        log("running " + " ".join(cmd))
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise DockerUnavailable(f"debootstrap failed ({res.returncode}): {res.stderr[-1500:] or res.stdout[-1500:]}")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        try:
            data = tar.stdout.read() if tar.stdout else b""
        finally:
            tar.wait()
        client.api.import_image_from_data(data, repository=BASE_TAG.split(":")[0], tag=BASE_TAG.split(":")[1],
                                          changes=[f"LABEL {LABEL}.packages={want}", "CMD [\"bash\"]"])
    log(f"base image: made {BASE_TAG} with debootstrap ({len(BASE_PACKAGES)} packages)")
    return BASE_TAG


def context_hash(path: Path) -> str:
    """Content hash of a build context (file names and bytes)."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def image_tag(name: str) -> str:
    return f"lambench/{name}:latest"


def build_images(root: str | os.PathLike = "sandboxes", *, client: Any = None, base_image: str | None = None,
                 log: Callable[[str], None] = print, names: list[str] | None = None) -> dict[str, str]:
    """Build (or keep, when unchanged) the image of every build context under ``root``; ``{name: tag}``."""
    client = client or get_client()
    root = Path(root)
    contexts = sorted(p.parent for p in root.glob("*/Dockerfile"))
    if names:
        contexts = [c for c in contexts if c.name in names]
    base = base_image or ensure_base_image(client, log=log)
    built = {}
    for ctx in contexts:
        tag = image_tag(ctx.name)
        h = context_hash(ctx) + ":" + hashlib.sha256(base.encode()).hexdigest()[:8]
        if _image_label(client, tag, f"{LABEL}.context") == h:
            log(f"{tag}: up to date")
        else:
            log(f"{tag}: building from {ctx} (base {base})")
            client.images.build(path=str(ctx), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True, forcerm=True,
                                labels={f"{LABEL}.context": h})
        built[ctx.name] = tag
    return built
