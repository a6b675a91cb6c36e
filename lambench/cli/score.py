"""``lambench score``: recompute run summaries from their episodes alone; print them."""

from __future__ import annotations

import json

import click

from lambench.cli.common import UsageProblem, echo_metrics, summary_rows, tasks_dir_option


@click.command("score")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@tasks_dir_option
def score_cmd(run_dirs: tuple[str, ...], as_json: bool) -> None:
    """Recompute the summary of run directories from their episodes.jsonl alone."""
    from lambench.run import EpisodeFormatError, write_summary

    summaries = []
    for d in run_dirs:
        try:
            summaries.append(write_summary(d))
        except EpisodeFormatError as exc:  # a corrupt line in the middle of episodes.jsonl
            raise UsageProblem(f"cannot score {d}: {exc}") from None
    if as_json:
        click.echo(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2))
        return
    replays = [s for s in summaries if s.get("kind") == "replay"]
    if replays:
        from lambench.render.terminal import format_replay_text

        click.echo(format_replay_text([(str(s["agent"]), s["replay"]) for s in replays],
                                      title=f"lambench replay — {replays[0]['suite']}"))
        summaries = [s for s in summaries if s.get("kind") != "replay"]
    if summaries:
        echo_metrics([row for s in summaries for row in summary_rows(str(s["agent"]), s)], summaries)
