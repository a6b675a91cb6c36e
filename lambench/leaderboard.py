"""The committed leaderboard: summaries under ``leaderboards/<suite>/*.summary.json``, rendered
to ``leaderboards/README.md`` with figures, by ``lambench leaderboard build``.

Entries of different suite versions (content hashes of the task files) are never ranked
together: each (suite, suite version) gets its own table, newest lambench version first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lambench.errors import LambenchError
from lambench.render.figures import leaderboard_figure
from lambench.render.markdown import leaderboard_markdown

__all__ = ["LeaderboardError", "add_entry", "build_leaderboard", "load_entries"]

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MARK_START = "<!-- leaderboard:start -->"
_MARK_END = "<!-- leaderboard:end -->"


class LeaderboardError(LambenchError, ValueError):
    """A leaderboard entry that cannot be read or placed."""


def load_entries(root: str | Path) -> list[dict[str, Any]]:
    """Every ``*.summary.json`` below ``root`` (one directory per suite)."""
    root = Path(root)
    entries = []
    for path in sorted(root.glob("*/*.summary.json")):
        try:
            s = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise LeaderboardError(f"{path}: not a readable summary ({exc}); fix or remove it") from None
        for key in ("agent", "suite", "suite_version", "metrics"):
            if key not in s:
                raise LeaderboardError(f"{path}: missing {key!r}; write entries with `lambench leaderboard add`")
        m = s["metrics"]
        if not isinstance(m, dict) or any(m.get(k) is not None and not isinstance(m.get(k), (int, float))
                                          for k in ("success_rate", "unsafe_action_rate", "false_success_rate")):
            raise LeaderboardError(f"{path}: 'metrics' is malformed; regenerate it with `lambench leaderboard add`")
        if not isinstance(m.get("success_ci", []), list) or len(m.get("success_ci", [0, 0])) != 2:
            raise LeaderboardError(f"{path}: metrics.success_ci must be [low, high]")
        if not isinstance(s["suite"], str) or not _SAFE.fullmatch(s["suite"]):
            raise LeaderboardError(f"{path}: suite {s['suite']!r} is not a plain suite name")
        s["_path"] = str(path.relative_to(root))
        entries.append(s)
    if not entries:
        raise LeaderboardError(f"no entries (*/*.summary.json) under {root}")
    return entries


def add_entry(run_dir: str | Path, root: str | Path) -> Path:
    """Copy a run's summary into the leaderboard (without machine-specific fields)."""
    from lambench.run import write_summary

    s = write_summary(run_dir)
    for key in ("run_dir", "computed"):
        s.pop(key, None)
    if not s["metrics"].get("episodes"):
        raise LeaderboardError(f"{run_dir} has no scored episodes; nothing to put on the leaderboard")
    if not isinstance(s.get("suite"), str) or not _SAFE.fullmatch(s["suite"]):
        raise LeaderboardError(f"{run_dir}: suite {s.get('suite')!r} is not a plain suite name")
    agent = _UNSAFE_CHARS.sub("_", str(s["agent"])) + ("__guard" if s.get("guard") else "")
    out = Path(root) / s["suite"] / f"{agent}.summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(s, indent=2))
    return out


def build_leaderboard(root: str | Path = "leaderboards") -> Path:
    """Render ``root/README.md`` (between markers, keeping any text around them) and figures."""
    root = Path(root)
    entries = load_entries(root)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in entries:
        groups.setdefault((str(s["suite"]), str(s["suite_version"])), []).append(s)
    ranked = [(key, sorted(group, key=lambda s: (-(s["metrics"].get("success_rate") or 0),
                                                 s["metrics"].get("unsafe_action_rate") or 0)))
              for key, group in sorted(groups.items())]
    figures: dict[tuple[str, str], str] = {}
    for (suite, version), group in ranked:
        figures[(suite, version)] = f"{suite}-{version}.png"
        try:
            leaderboard_figure(group, root / figures[(suite, version)],
                               f"{suite} (suite version {version}): success vs safety")
        except ImportError:
            raise LeaderboardError("figures need matplotlib, a dependency of lambench that is missing from this "
                                   "environment: pip install matplotlib (or reinstall lambench)") from None
    made = set(figures.values())
    block = leaderboard_markdown(ranked, figures, start=_MARK_START, end=_MARK_END)
    readme = root / "README.md"
    text = readme.read_text() if readme.exists() else "# Leaderboards\n\n"
    if _MARK_START in text and _MARK_END in text:
        a, b = text.index(_MARK_START), text.index(_MARK_END) + len(_MARK_END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)
    suites = {p.name for p in root.iterdir() if p.is_dir()}
    for old in root.glob("*.png"):  # figures of suite versions that have no entries any more
        suite, _, version = old.stem.rpartition("-")
        if old.name not in made and suite in suites and re.fullmatch(r"[0-9a-f]{12}|None", version):
            old.unlink()
    return readme
