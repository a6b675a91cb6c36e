"""``lambench export sft``: (request, state, action) triples as chat-format training records.

The first stage of the LAM paper's pipeline trains on what a good actor did in each state.
Each step of a dataset (or of a live run's successful episodes) becomes one JSONL record::

    {"messages": [{"role": "system", "content": ...},
                  {"role": "user", "content": request + actions so far + observation},
                  {"role": "assistant", "content": "", "tool_calls": [{"type": "function", ...}]}],
     "tools": "<JSON text of the tool definitions>",
     "meta": {"dataset", "trajectory_id", "task_id", "step", "variant", "status"}}

A step recorded with a screenshot (``--observation screenshot|both|som``) also has ``"images": ["screens/<hash>.png"]``
(copied next to the export) and its user turn is ``[{"type": "image"}, {"type": "text", "text": ...}]``, the
format TRL's vision-language SFT trainer reads.

``meta.status`` is the gold status (``finish`` on the step that completes the task, which for
imported data may be a real action rather than ``finish``).

``tools`` is JSON *text* (tools have differently shaped schemas, which a columnar reader such as
Hugging Face ``datasets`` cannot put in one column); ``json.loads`` it before passing it to a chat
template.  Hugging Face ``datasets.load_dataset("json", data_files=...)`` loads the file as is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from lambench.action import action_tool_definitions
from lambench.prompts import SYSTEM_PROMPT, action_to_tool_call, format_step
from lambench.replay.dataset import DatasetError, load_dataset, open_text

__all__ = ["sft_records", "export_sft"]


def sft_records(steps: Iterable[dict[str, Any]], *, tools_for: Any = None, system_prompt: str = SYSTEM_PROMPT,
                images: dict[str, str] | None = None) -> Iterable[dict[str, Any]]:
    """Chat records for dataset steps; ``tools_for(step)`` gives the tool definitions (default: the actions).

    ``images`` (a step's screenshot path -> the path to write): a step with a screenshot gets ``images`` and a user
    turn of an image part then the text (the format TRL's vision-language SFT takes)."""
    default_tools = json.dumps(action_tool_definitions(), ensure_ascii=False)
    for s in steps:
        tools = s.get("tools")
        if tools is None and tools_for is not None:
            tools = tools_for(s)
        user: Any = format_step(s["request"], s["observation"]["text"], s["history"])
        extra = {}
        if images is not None and s["observation"].get("screenshot") in images:  # the screen, as TRL's VLM format
            user = [{"type": "image"}, {"type": "text", "text": user}]
            extra = {"images": [images[s["observation"]["screenshot"]]]}
        yield {
            **extra,
            "messages": [
                {"role": "system", "content": system_prompt},
                {"role": "user", "content": user},
                {"role": "assistant", "content": "",
                 "tool_calls": [action_to_tool_call(s["gold"]["action"], f"call_{s['step']}")]},
            ],
            "tools": json.dumps(tools, ensure_ascii=False) if tools is not None else default_tools,
            "meta": {"dataset": s["dataset"], "trajectory_id": s["trajectory_id"], "task_id": s["task_id"],
                     "step": s["step"], "variant": s.get("variant", "clean"), "status": s["gold"]["status"]},
        }


def _tools_for(step: dict[str, Any]) -> list[dict[str, Any]] | None:
    from lambench.replay.run import suite_tools

    return suite_tools(step)


def export_sft(source: str | os.PathLike, out: str | os.PathLike, *, include_all: bool = False,
               split: str | None = None) -> int:
    """Write the chat records of a dataset file or a live run directory to ``out``; return how many.

    From a run directory only verified successes are used (``include_all`` keeps every episode
    — not advisable for training).  ``split`` (``train`` or ``test``) keeps only the steps of templates in that
    split (:mod:`lambench.replay.split`), so training data never holds a template of the test split.
    """
    source = Path(source)
    if source.is_dir():
        from lambench.replay.recorder import record_run

        steps, report = record_run(source, include_all=include_all)
        if not steps:
            reasons = "; ".join(f"{n} {why}" for why, n in report.skipped.items()) or "no episodes"
            raise DatasetError(source, [f"no usable episodes ({reasons})"])
    else:
        steps = load_dataset(source).steps
    if split is not None:
        from lambench.replay.split import step_split

        total = len(steps)
        steps = [s for s in steps if step_split(s) == split]
        if not steps:
            raise DatasetError(source, [f"none of its {total} steps is in the {split!r} split (templates are split "
                                        "by a hash of their id, about a fifth in 'test')"])
    n = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    from lambench.replay.screens import copy_screenshots

    images = copy_screenshots(steps, out.parent)  # screens/ next to the export
    with open_text(tmp, "w", gz=out.suffix == ".gz") as fh:
        for rec in sft_records(steps, tools_for=_tools_for, images=images):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, out)
    return n
