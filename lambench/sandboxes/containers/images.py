"""Sandbox images: built from the build contexts under the shipped ``sandboxes/`` folder (one folder per
image, each Dockerfile taking ``ARG BASE_IMAGE``), rebuilt only when the context changed (its content hash is an
image label).  A container sandbox's image is built from the folder named after the sandbox.

The base is ``debian:bookworm-slim`` when it can be pulled; otherwise lambench makes a minimal Debian base itself
with ``debootstrap`` and ``docker import``, offline from the Debian mirror.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from lambench.sandboxes.containers.client import LABEL, DockerUnavailable, get_client, prune
from lambench.shipped import shipped_dir

__all__ = ["BASE_PACKAGES", "ensure_base_image", "context_hash", "image_tag", "build_images", "image_for",
           "prepare_images", "sandboxes_root"]

PUBLIC_BASE = "debian:bookworm-slim"
BASE_TAG = "lambench/base:bookworm"
BASE_PACKAGES = ("bash", "coreutils", "findutils", "grep", "sed", "gawk", "tar", "gzip", "python3", "git",
                 "sqlite3", "procps", "ca-certificates")
"""What the offline base holds: enough for the shell and web-app sandboxes to build without a network."""


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
    """Content hash of a build context (file names and bytes).  Python's byte-code caches are left out: pip writes
    them next to the app of an installed wheel's copy, which is the same context as the checkout's."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(path).parts
                    and p.suffix != ".pyc"):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def image_tag(name: str) -> str:
    return f"lambench/{name}:latest"


def build_images(root: str | os.PathLike | None = None, *, client: Any = None, base_image: str | None = None,
                 log: Callable[[str], None] = print, names: list[str] | None = None) -> dict[str, str]:
    """Build (or keep, when unchanged) the image of every build context under ``root`` (default: the shipped
    ones, :func:`sandboxes_root`); ``{name: tag}``."""
    root = Path(root) if root is not None else sandboxes_root()
    contexts = sorted(p.parent for p in root.glob("*/Dockerfile"))
    if not contexts:
        raise DockerUnavailable(f"no build context (a folder with a Dockerfile) under {root}; give the folder of "
                                "lambench's sandboxes/ with --root or $LAMBENCH_SANDBOXES (reinstall lambench if "
                                "its shipped copy is missing)")
    client = client or get_client()
    if names:
        contexts = [c for c in contexts if c.name in names]
    base = base_image or ensure_base_image(client, log=log)
    built = {}
    for ctx in contexts:
        tag = image_tag(ctx.name)
        stage = _stage_spec(ctx)
        try:
            h = (context_hash(ctx) + _stage_hash(ctx, stage) + ":" + hashlib.sha256(base.encode()).hexdigest()[:8])
        except DockerUnavailable as exc:
            if names:  # asked for by name (a run needs it): the message says what to install
                raise
            log(f"{tag}: skipped ({exc})")
            continue
        if _image_label(client, tag, f"{LABEL}.context") == h:
            log(f"{tag}: up to date")
        else:
            log(f"{tag}: building from {ctx} (base {base})")
            with tempfile.TemporaryDirectory(prefix=f"lambench-context-{ctx.name}-") as tmp:
                path = _staged(ctx, stage, Path(tmp)) if stage else ctx
                client.images.build(path=str(path), tag=tag, buildargs={"BASE_IMAGE": base}, rm=True,
                                    forcerm=True, labels={f"{LABEL}.context": h})
        built[ctx.name] = tag
    return built


STAGE_FILE = "stage.json"
"""A build context may name what it needs from outside its folder (``{"copy": {"app": "../webapp/app"},
"python": ["playwright", "greenlet"]}``): folders of sibling contexts, and Python packages installed here (copied
as installed, so the image builds with no package index; they must fit the image's Python, which is checked)."""


def _stage_spec(ctx: Path) -> dict[str, Any]:
    f = ctx / STAGE_FILE
    if not f.is_file():
        return {}
    import json

    spec = json.loads(f.read_text())
    unknown = set(spec) - {"copy", "python"}
    if unknown:
        raise ValueError(f"{f}: unknown key(s) {', '.join(sorted(unknown))}; expected copy, python")
    return spec


def _python_package(name: str) -> tuple[Path, str]:
    """The installed package's folder and its version (``PackageMissing`` naming the fix when absent)."""
    from importlib import metadata
    import importlib.util

    try:
        version = metadata.version(name)
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DockerUnavailable(f"building the browser image needs the Python package {name!r} installed next to "
                                f"lambench (pip install 'lambench[browser]', or pip install {name})")
    return Path(list(spec.submodule_search_locations)[0]), version


def _stage_hash(ctx: Path, stage: dict[str, Any]) -> str:
    if not stage:
        return ""
    h = hashlib.sha256()
    for dest, src in sorted(stage.get("copy", {}).items()):
        h.update(dest.encode() + b"\0" + context_hash((ctx / src).resolve()).encode())
    pkgs = stage.get("python", [])
    if pkgs:
        _check_python(ctx, pkgs)
    for name in pkgs:
        h.update(f"{name}=={_python_package(name)[1]}".encode())
    return "+" + h.hexdigest()[:16]


def _check_python(ctx: Path, pkgs: list[str]) -> None:
    """Installed packages go into the image as they are: they must be built for its Python (Debian bookworm's 3.11
    on Linux, this machine's architecture)."""
    import platform

    if sys.version_info[:2] != (3, 11) or sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        raise DockerUnavailable(f"the {ctx.name} image takes the Python packages {', '.join(pkgs)} as installed "
                                f"here, which must be built for Python 3.11 on Linux (the image's Debian bookworm "
                                f"python3); this is Python {sys.version_info[0]}.{sys.version_info[1]} on "
                                f"{sys.platform}/{platform.machine()}. Run `lambench sandboxes build` from a Python "
                                f"3.11 environment on Linux")


def _staged(ctx: Path, stage: dict[str, Any], tmp: Path) -> Path:
    """The context with what ``stage.json`` names copied in (``pw/<package>`` for Python packages)."""
    out = tmp / ctx.name
    shutil.copytree(ctx, out)
    for dest, src in stage.get("copy", {}).items():
        shutil.copytree((ctx / src).resolve(), out / dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    pkgs = stage.get("python", [])
    for name in pkgs:
        path, _ = _python_package(name)
        shutil.copytree(path, out / "pw" / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return out


_READY: set[str] = set()
_READY_LOCK = threading.RLock()


def sandboxes_root() -> Path:
    """The folder of the build contexts: ``$LAMBENCH_SANDBOXES``, else the shipped ``sandboxes/`` (the package's
    copy in an installed wheel, the checkout's folder in an editable install)."""
    env = os.environ.get("LAMBENCH_SANDBOXES")
    return Path(env) if env else shipped_dir("sandboxes")


def image_for(sandbox: str) -> str:
    """The image tag of a container sandbox, built (or found up to date) once per process."""
    tag = image_tag(sandbox)
    with _READY_LOCK:
        if sandbox not in _READY:
            prepare_images([sandbox], log=lambda m: print(f"lambench: {m}", file=sys.stderr))
            _READY.add(sandbox)
    return tag


def prepare_images(sandboxes: list[str], *, log: Callable[[str], None] = print) -> None:
    """Prune orphans of killed runs, then build the images of these container sandboxes unless they are up to
    date."""
    names = sorted(set(sandboxes))
    if not names:
        return
    client = get_client()
    try:
        gone = prune(client)
        if gone:
            log(f"removed {len(gone)} container(s)/network(s) left by killed runs")
        root = sandboxes_root()
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
