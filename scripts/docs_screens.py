#!/usr/bin/env python3
"""Write docs/images/<sandbox>-*.png: each sandbox as a model sees it at the start of a task.

    python scripts/docs_screens.py [--only mockos browser shell webapp]

The mock OS and the browser show screenshots (``som``: the labels drawn on); the shell and the web app's API have
no screen, so their image is the text observation a model reads, set in type.  The container sandboxes need Docker.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "images"


def text_image(text: str, path: Path, width: int = 1024, lines: int = 40) -> None:
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    rows = [r for line in text.splitlines() for r in (textwrap.wrap(line, 130, subsequent_indent="    ") or [""])]
    rows = rows[:lines] + (["[...]"] if len(rows) > lines else [])
    font = ImageFont.load_default(size=13)
    img = Image.new("RGB", (width, 17 * len(rows) + 24), (250, 250, 248))
    d = ImageDraw.Draw(img)
    for i, row in enumerate(rows):
        d.text((12, 12 + 17 * i), row, fill=(30, 30, 30), font=font)
    img.save(path, optimize=True)


def main() -> int:
    import lambench  # noqa: F401
    from lambench.env import LamEnv

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=["mockos", "browser", "shell", "webapp"])
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if "browser" in args.only:
        env = LamEnv("wg-crm-phone-grace@0", observation="som")
        env.reset(seed=0)
        obs, *_ = env.step({"type": "goto", "url": "/customers/10"})
        env.sandbox.screenshot(marks=True).save(OUT / "browser-som.png", optimize=True)
        text_image(obs["text"], OUT / "browser-text.png")
        env.close()
    if "mockos" in args.only:
        env = LamEnv("mail-send-report", observation="som")
        env.reset(seed=0)
        env.sandbox.screenshot(marks=True).save(OUT / "mockos-som.png", optimize=True)
        env.close()
    for sandbox, task in (("shell", "sh-archive-create-tgz"), ("webapp", "wa-crm-phone-grace@0")):
        if sandbox in args.only:
            env = LamEnv(task)
            text, _ = env.reset(seed=0)
            text_image(f"[system prompt and tools omitted]\n\n{env.task.instruction}\n\n{text}",
                       OUT / f"{sandbox}-text.png")
            env.close()
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
