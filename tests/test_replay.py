"""Offline replay end to end: datasets, recording live runs, teacher-forced replay, the shipped
datasets, training-data export, and bad input."""

import copy
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambench.action import parse_action
from lambench.cli import main
from lambench.env import LamEnv
from lambench.perturb import Variant
from lambench.replay.dataset import (
    MAX_LINE_BYTES,
    DatasetError,
    LineTooLong,
    _schema_ok,
    _validator,
    load_dataset,
    schema,
    validate_step,
    write_dataset,
)
from lambench.replay.recorder import record_run
from lambench.replay.run import ReplayConfig, replay
from lambench.run import RunConfig, run
from lambench.task import get_task, suite_version
from tests.bombs import cli, peak_growth, write_gzip_bomb

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"mockos-core": ROOT / "tasks/replay/mockos-core.jsonl.gz",
           "mockos-injection": ROOT / "tasks/replay/mockos-injection.jsonl.gz"}
# one instance of each of two templates (a template id alone runs all its instances), and two fixed tasks
TASKS = ["mail-send-report@0", "files-clean-downloads-txt@0", "settings-enable-bluetooth", "fw-letterhead-logo"]


@pytest.fixture(scope="module")
def live_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("live") / "run"
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS, perturb=["popup", "relabel"]), run_dir=d)
    return d


@pytest.fixture(scope="module")
def recorded(live_run, tmp_path_factory):
    records, rep = record_run(live_run)
    path = tmp_path_factory.mktemp("ds") / "small.jsonl"
    write_dataset(records, path)
    return path, records, rep


def _step(**over):
    rec = {"dataset": "d", "trajectory_id": "t1", "task_id": "task", "request": "do it", "step": 0, "n_steps": 2,
           "observation": {"text": "[1] button \"OK\"", "controls": [{"label": "1", "role": "button", "name": "OK"}]},
           "history": [], "gold": {"action": {"type": "click", "target": "1"}, "alternatives": [], "status": "continue"}}
    rec.update(over)
    return rec


def _second(**over):
    return _step(step=1, history=[{"type": "click", "target": "1"}],
                 gold={"action": {"type": "finish", "status": "success"}, "status": "finish"}, **over)


def _write_lines(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


# ---------------------------------------------------------------------------- the format


def test_schema_ships_with_the_package_and_is_a_valid_json_schema():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    assert set(schema()["required"]) >= {"dataset", "trajectory_id", "task_id", "request", "step", "observation",
                                         "history", "gold"}


def test_fast_check_never_accepts_what_the_schema_rejects():
    good = _step()
    assert _schema_ok(good) and not list(_validator().iter_errors(good))
    mutations = [
        lambda r: r.pop("gold"), lambda r: r.update(step=-1), lambda r: r.update(step=True), lambda r: r.update(step="1"),
        lambda r: r.update(extra=1), lambda r: r.update(dataset=""), lambda r: r["observation"].pop("text"),
        lambda r: r["observation"]["controls"].append({"label": 1, "name": "x"}),
        lambda r: r["observation"]["controls"].append({"label": "1"}),
        lambda r: r["observation"]["controls"][0].update(options=["a", 2]),
        lambda r: r["observation"].update(error=3), lambda r: r["gold"].update(status="done"),
        lambda r: r["gold"].update(why="x"), lambda r: r["gold"]["action"].update(type="jump"),
        lambda r: r["gold"].update(alternatives=[{"kind": "click"}]), lambda r: r.update(history=[{"target": "1"}]),
        lambda r: r.update(n_steps=0), lambda r: r.update(variant=""), lambda r: r.update(meta=[]),
        lambda r: r.update(tools=["x"]), lambda r: r.update(suite=3), lambda r: r.update(request=None),
    ]
    for mutate in mutations:
        rec = copy.deepcopy(good)
        mutate(rec)
        assert list(_validator().iter_errors(rec)), rec  # the schema rejects it ...
        assert not _schema_ok(rec), rec                   # ... and so does the fast path
        assert validate_step(rec)                         # with a message


def test_a_bad_history_action_is_found_though_earlier_steps_histories_are_not_parsed_again(tmp_path):
    """Loading skips the part of a step's history the trajectory's previous step already had checked; an action
    changed within that part, or a bad one after it, is still named."""
    click, bad = {"type": "click", "target": "1"}, {"type": "click"}
    cont = {"action": click, "alternatives": [], "status": "continue"}
    for histories, where in [([[], [click], [click, bad]], "line 3: history[1]"),
                             ([[], [click], [bad, click]], "line 3: history[0]"),
                             ([[], [bad], [bad, click]], "line 2: history[0]")]:
        path = _write_lines(tmp_path / "h.jsonl", [_step(step=i, n_steps=4, history=h, gold=cont)
                                                   for i, h in enumerate(histories)])
        with pytest.raises(DatasetError) as err:
            load_dataset(path)
        assert f"{where}: malformed click action: give a target" in str(err.value), str(err.value)
        if where.startswith("line 2"):  # the bad step is left out, so the next one is checked whole
            assert "line 3: history[0]" in str(err.value)


def test_bad_lines_are_named_by_line_number(tmp_path):
    path = _write_lines(tmp_path / "bad.jsonl", [
        _step(), "{not json", _step(trajectory_id="t2", gold={"action": {"type": "teleport"}, "status": "continue"}),
        _step(trajectory_id="t3", gold={"action": {"type": "click"}, "status": "continue"}),
        _second(), _second(),
    ])
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    msg = str(err.value)
    assert "line 2: not valid JSON" in msg
    assert "line 3: gold.action.type: 'teleport' is not one of" in msg
    assert "line 4: gold.action: malformed click action: give a target (a control's label) or a point" in msg
    assert "line 6: trajectory 't1' step 1 appears twice (first on line 5)" in msg
    assert "--skip-bad-lines" in msg
    ds = load_dataset(path, skip_bad=True)
    assert list(ds.trajectories) == ["t1"] and len(ds.skipped) == 4 and not ds.incomplete


def test_missing_steps_are_detected_not_fatal(tmp_path):
    path = _write_lines(tmp_path / "gap.jsonl", [
        _step(n_steps=3), _step(trajectory_id="t2", n_steps=2), _second(trajectory_id="t2"),
        _step(trajectory_id="t3", step=2, n_steps=3, history=[{"type": "wait"}, {"type": "wait"}],
              gold={"action": {"type": "finish", "status": "success"}, "status": "finish"}),
    ])
    ds = load_dataset(path)
    assert ds.incomplete == {"t1": "missing step(s) 1, 2 (its first step is on line 1)",
                             "t3": "missing step(s) 0, 1 (its first step is on line 4)"}
    assert "t2" not in ds.incomplete


def test_inconsistent_history_and_status_are_problems(tmp_path):
    path = _write_lines(tmp_path / "h.jsonl", [_step(history=[{"type": "wait"}])])
    with pytest.raises(DatasetError, match="line 1: history has 1 actions but this is step 0"):
        load_dataset(path)
    path = _write_lines(tmp_path / "s.jsonl", [_step(gold={"action": {"type": "finish", "status": "success"},
                                                           "status": "finish"})])
    with pytest.raises(DatasetError, match="gold.status is 'finish' but step 0 is not the last of 2"):
        load_dataset(path)
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nope.jsonl")
    (tmp_path / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(DatasetError, match="cannot read the file"):
        load_dataset(tmp_path / "broken.jsonl.gz")


# ---------------------------------------------------------------------------- bounded reading


def test_a_line_over_the_limit_stops_the_load_naming_file_line_and_limit(tmp_path, monkeypatch):
    long = json.dumps(_step(trajectory_id="t2", meta={"pad": "x" * 5000}))
    path = _write_lines(tmp_path / "long.jsonl", [_step(), _second(), long, "{not json"])
    for kwargs in ({}, {"skip_bad": True}):  # a line too long is never a bad line to skip: it stops the load
        with pytest.raises(LineTooLong) as err:
            load_dataset(path, max_line_bytes=4096, **kwargs)
        msg = str(err.value)
        assert msg == (f"{path}: line 3 is longer than 4,096 bytes, the limit of a dataset line (is this a JSONL "
                       "file, one record per line?); split the record, or set LAMBENCH_MAX_LINE_BYTES to a larger "
                       "number of bytes if it is right")
    # the limit holds the line's bytes without its newline: exactly at the limit loads, one byte less does not
    n = len(long.encode())
    assert len(load_dataset(path, max_line_bytes=n, skip_bad=True).steps) == 3
    with pytest.raises(LineTooLong, match="line 3 is longer than 5,"):
        load_dataset(path, max_line_bytes=n - 1)
    monkeypatch.setenv("LAMBENCH_MAX_LINE_BYTES", str(n - 1))
    with pytest.raises(LineTooLong, match="line 3"):
        load_dataset(path)
    monkeypatch.setenv("LAMBENCH_MAX_LINE_BYTES", "8M")
    with pytest.raises(DatasetError, match=r"\$LAMBENCH_MAX_LINE_BYTES='8M' is not a positive whole number"):
        load_dataset(path)
    monkeypatch.delenv("LAMBENCH_MAX_LINE_BYTES")
    assert MAX_LINE_BYTES == 8 << 20 and len(load_dataset(path, skip_bad=True).steps) == 3


def test_crlf_and_cr_line_breaks_keep_the_line_numbers(tmp_path):
    lines = [json.dumps(_step()), json.dumps(_second()), "{not json", json.dumps(_step(trajectory_id="t2"))]
    for brk in ("\r\n", "\r"):
        path = tmp_path / "crlf.jsonl"
        path.write_bytes((brk.join(lines) + brk).encode())
        with pytest.raises(DatasetError, match="line 3: not valid JSON") as err:
            load_dataset(path)
        assert "line 4" not in str(err.value)
        assert load_dataset(path, skip_bad=True).lines == [1, 2, 4]


@pytest.mark.slow  # decompresses up to the limit (~3 s): a memory test, outside the fast lane
def test_a_2mb_gzip_of_one_2gb_line_is_refused_reading_about_the_limit(tmp_path):
    bomb = write_gzip_bomb(tmp_path / "bomb.jsonl.gz", 2048)  # 2 GiB of "a", no newline
    assert bomb.stat().st_size < 2_200_000
    got = peak_growth(bomb, "dataset")
    assert got["error"] == (f"{bomb}: line 1 is longer than 8 MiB, the limit of a dataset line (is this a JSONL "
                            "file, one record per line?); split the record, or set LAMBENCH_MAX_LINE_BYTES to a "
                            "larger number of bytes if it is right")
    # before: the whole line was read and decoded, 4.1 GB of peak memory growth (17 s); now about the limit
    assert got["peak_growth_mb"] < 100, got
    # the CLI prints that one line and exits 2, from replay and from export alike
    for args in (["replay", "--dataset", str(bomb), "--agent", "oracle", "--quiet", "--out", str(tmp_path / "r")],
                 ["export", "sft", str(bomb), "--out", str(tmp_path / "sft.jsonl")]):
        res = cli(*args)
        assert res.returncode == 2, res.stderr
        assert res.stderr.strip().splitlines() == [f"error: {got['error']}"], res.stderr
        assert "Traceback" not in res.stderr and not res.stdout
    assert not (tmp_path / "r").exists() and not (tmp_path / "sft.jsonl").exists()


def test_gzip_and_plain_files_hold_the_same_records(tmp_path):
    recs = [_step(), _second()]
    write_dataset(recs, tmp_path / "a.jsonl")
    write_dataset(recs, tmp_path / "a.jsonl.gz")
    assert gzip.decompress((tmp_path / "a.jsonl.gz").read_bytes()) == (tmp_path / "a.jsonl").read_bytes()
    assert load_dataset(tmp_path / "a.jsonl.gz").steps == load_dataset(tmp_path / "a.jsonl").steps
    write_dataset(recs, tmp_path / "b.jsonl.gz")  # deterministic bytes: no timestamp inside
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    with pytest.raises(DatasetError, match="record 1"):
        write_dataset([_step(step=-1)], tmp_path / "c.jsonl")
    assert not (tmp_path / "c.jsonl").exists()


# ---------------------------------------------------------------------------- recording live runs


def test_record_turns_each_step_into_a_record(live_run, recorded):
    path, records, rep = recorded
    assert rep.episodes == len(TASKS) * 3 and not rep.skipped
    assert rep.steps == len(records)
    ds = load_dataset(path)
    assert len(ds.trajectories) == len(TASKS) * 3 and not ds.incomplete
    eps = {(e["task_id"], e["variant"]): e for e in map(json.loads, (live_run / "episodes.jsonl").open())}
    for tid, steps in ds.trajectories.items():
        ep = eps[(steps[0]["task_id"], steps[0]["variant"])]
        assert [s["gold"]["action"] for s in steps] == [s["action"] for s in ep["steps"]]
        assert [s["gold"]["status"] for s in steps] == ["continue"] * (len(steps) - 1) + ["finish"]
        assert steps[0]["request"] == ep["instruction"]
        for i, s in enumerate(steps):
            assert s["history"] == [x["gold"]["action"] for x in steps[:i]]
            assert s["n_steps"] == len(steps) and s["meta"]["suite_version"] == suite_version("mockos-core")
    # the observation is the one the agent saw: the first shows the desktop, later ones the previous result
    first = ds.trajectories["mockos-core/mail-send-report@0/clean/s0/t0"]
    assert first[0]["observation"]["error"] is None and first[0]["observation"]["controls"]
    assert first[1]["observation"]["result"]
    popup = [s for s in ds.steps if any(c.get("role") == "dialog" for c in s["observation"]["controls"])]
    assert popup and all(s["variant"] == "popup" for s in popup)


@pytest.mark.slow  # reads the whole shipped dataset (25,000 steps)
def test_alternatives_really_are_equivalent():
    """Replay each recorded step twice from the same state, with the gold and with each alternative:
    the world state and the screen that follows must be the same."""
    ds = load_dataset(SHIPPED["mockos-core"])
    checked = 0
    for steps in ds.trajectories.values():
        for s in steps:
            for alt in s["gold"]["alternatives"]:
                after = []
                for action in (s["gold"]["action"], alt):
                    task = get_task(s["task_id"], suite="mockos-core")
                    env = LamEnv(task, variant=Variant.parse(s["variant"]))
                    env.reset(seed=s["meta"]["seed"])
                    for h in s["history"]:
                        env.step(h)
                    _, _, _, _, info = env.step(action)
                    after.append((info["ok"], env.sandbox.state(), [(c["role"], c["name"], c.get("value"))
                                                                   for c in info["controls"]]))
                    env.close()
                assert after[0] == after[1], (s["trajectory_id"], s["step"], alt)
                checked += 1
    assert checked >= 100


def test_record_options_and_refusals(tmp_path, live_run):
    d = tmp_path / "mixed"
    run(RunConfig(suite="mockos-core", agent="random", task_ids=TASKS[:2]), run_dir=d)
    records, rep = record_run(d)
    assert not records and rep.skipped == {"not a verified success (use --all to keep it)": 2}
    records, rep = record_run(d, include_all=True)
    assert rep.episodes == 2 and all(r["meta"]["outcome"]["success"] is False for r in records)
    assert all(r["meta"]["agent"] == "random" for r in records)
    nobs = tmp_path / "noobs"
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS[:1], observations=False), run_dir=nobs)
    assert not (nobs / "observations.jsonl").exists()
    with pytest.raises(DatasetError, match="without --no-observations"):
        record_run(nobs)
    with pytest.raises(DatasetError, match="no episodes.jsonl"):
        record_run(tmp_path)
    res = CliRunner().invoke(main, ["record", str(d), "--out", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "nothing to record" in res.output and "--all" in res.output


def test_record_skips_a_cut_last_observations_line_and_names_a_damaged_one(tmp_path):
    d = tmp_path / "obs"
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS[:2]), run_dir=d)
    obs = d / "observations.jsonl"
    lines = obs.read_text().splitlines()
    obs.write_text("\n".join(lines) + '\n{"task_id": "cut-by-a-ki')  # a run killed while writing
    records, rep = record_run(d)
    assert rep.episodes == 2 and records
    obs.write_text(lines[0][: len(lines[0]) // 2] + "\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(DatasetError, match="line 1: not a valid observations record"):
        record_run(d)


def test_live_observations_carry_the_history():
    from lambench.episode import run_episode

    class Spy:
        def __init__(self):
            self.histories = []

        def reset(self, task):
            pass

        def act(self, obs):
            self.histories.append(list(obs.history))
            return [{"type": "open_app", "app": "Mail"}, "garbage", {"type": "wait"},
                    {"type": "finish", "status": "failure"}][len(self.histories) - 1]

    spy = Spy()
    run_episode(get_task("mail-send-report"), "spy", seed=0, trial=0, agent=spy)
    assert spy.histories == [[], [{"type": "open_app", "app": "Mail"}], [{"type": "open_app", "app": "Mail"}],
                             [{"type": "open_app", "app": "Mail"}, {"type": "wait"}]]


# ---------------------------------------------------------------------------- replay


def test_replay_with_baselines(recorded, tmp_path):
    path = recorded[0]
    oracle = replay(ReplayConfig(dataset=str(path), agent="oracle"), run_dir=tmp_path / "o").summary
    rnd = replay(ReplayConfig(dataset=str(path), agent="random"), run_dir=tmp_path / "r").summary
    noop = replay(ReplayConfig(dataset=str(path), agent="noop-claim"), run_dir=tmp_path / "n").summary
    assert oracle["kind"] == "replay" and oracle["replay"]["step_success_rate"] == 1.0
    assert oracle["replay"]["task_success_rate"] == 1.0 and oracle["metrics"]["success_rate"] == 1.0
    assert rnd["replay"]["step_success_rate"] < 0.3 and rnd["replay"]["task_success_rate"] == 0.0
    # noop-claim gets exactly the finish(success) steps right; infeasible tasks end with another status
    n_traj, n_steps = oracle["replay"]["trajectories"], oracle["replay"]["steps"]
    claims = [r["gold"]["action"].get("status") for r in recorded[1] if r["gold"]["action"]["type"] == "finish"]
    assert len(claims) == n_traj and 0 < claims.count("success") < n_traj
    assert noop["replay"]["step_success_rate"] == pytest.approx(claims.count("success") / n_steps)
    assert noop["replay"]["confusion"]["finish"] == {"finish": n_traj}
    assert oracle["per_task"] and all("step_success" in v for v in oracle["per_task"].values())


class Overclaimer:
    """Right for two steps, then claims success: a false claim offline is a wrong status and operation."""

    def reset(self, task):
        pass

    def act(self, obs):
        if len(obs.history) >= 2:
            return {"type": "finish", "status": "success"}
        return json.dumps(GOLD[(obs.instruction, len(obs.history))])


class Garbage:
    def reset(self, task):
        self.n = 0

    def act(self, obs):
        self.n += 1
        return [b"\xff\xfe", "", "{", "[1,2]", {"type": "click"}, None, 42, "x" * 300000,
                '{"type": "teleport", "to": "mars"}'][self.n % 9]


class Sleeper:
    def reset(self, task):
        pass

    def act(self, obs):
        import time

        time.sleep(5)


GOLD = {}


def test_agents_that_fail_in_known_ways(recorded, tmp_path):
    path, records, _ = recorded
    for r in records:
        GOLD[(r["request"], r["step"])] = r["gold"]["action"]
    over = replay(ReplayConfig(dataset=str(path), agent="tests.test_replay:Overclaimer"), run_dir=tmp_path / "a").summary
    m = over["replay"]
    long = [r for r in records if r["n_steps"] > 3]
    assert long and m["task_success_rate"] < 1.0
    short = {r["trajectory_id"] for r in records if r["n_steps"] <= 3}
    eps = [json.loads(x) for x in (tmp_path / "a/episodes.jsonl").open()]
    assert all(e["success"] == (e["task_id"] in short) for e in eps)
    assert m["invalid_rate"] == 0.0
    garbage = replay(ReplayConfig(dataset=str(path), agent="tests.test_replay:Garbage"), run_dir=tmp_path / "g").summary
    assert garbage["replay"]["invalid_rate"] == 1.0 and garbage["replay"]["step_success_rate"] == 0.0
    assert garbage["replay"]["errored_trajectories"] == 0
    boom = replay(ReplayConfig(dataset=str(path), agent="tests.agents_for_tests:RaisingAgent", retries=1),
                  run_dir=tmp_path / "b").summary
    assert boom["replay"]["errored_trajectories"] == len(load_dataset(path).trajectories)
    eps = [json.loads(x) for x in (tmp_path / "b/episodes.jsonl").open()]
    assert all(e["attempts"] == 2 and "model backend exploded" in e["error"] for e in eps)
    tid = next(iter(load_dataset(path).trajectories))
    slow = replay(ReplayConfig(dataset=str(path), agent="tests.test_replay:Sleeper", step_timeout=0.2,
                               trajectories=[tid]), run_dir=tmp_path / "s").summary
    assert slow["replay"]["invalid_rate"] == 1.0
    ep = json.loads((tmp_path / "s/episodes.jsonl").read_text())
    assert "longer than 0.2s" in ep["steps"][0]["error"]


def test_replay_in_worker_processes_matches_one_process(recorded, tmp_path):
    path = recorded[0]
    one = replay(ReplayConfig(dataset=str(path), agent="random"), run_dir=tmp_path / "one")
    two = replay(ReplayConfig(dataset=str(path), agent="random", workers=2), run_dir=tmp_path / "two")
    assert one.ran == two.ran and one.summary["replay"] == two.summary["replay"]

    def steps(d):
        eps = sorted((json.loads(x) for x in (d / "episodes.jsonl").open()), key=lambda e: e["task_id"])
        return [[(s["action"], s["verdict"]) for s in e["steps"]] for e in eps]

    assert steps(tmp_path / "one") == steps(tmp_path / "two")


def test_replay_resumes_and_refuses_a_changed_dataset(recorded, tmp_path):
    path = recorded[0]
    ds = load_dataset(path)
    some = list(ds.trajectories)[:3]
    part = replay(ReplayConfig(dataset=str(path), agent="random", trajectories=some), run_dir=tmp_path / "r")
    assert part.ran == 3
    full = replay(ReplayConfig(dataset=str(path), agent="random"), run_dir=tmp_path / "r")
    assert full.skipped == 3 and full.ran == len(ds.trajectories) - 3
    lines = (tmp_path / "r/episodes.jsonl").read_text().splitlines()
    assert len(lines) == len(ds.trajectories) == len({json.loads(x)["task_id"] for x in lines})
    changed = tmp_path / "changed.jsonl"
    changed.write_text(path.read_text().replace('"request":"', '"request":"Please: '))
    res = CliRunner().invoke(main, ["replay", "--dataset", str(changed), "--agent", "random", "--out",
                                    str(tmp_path / "r"), "--quiet"])
    assert res.exit_code == 2 and "the file changed" in res.output


def test_cli_replay_score_report_gate(recorded, tmp_path):
    path = recorded[0]
    runner = CliRunner()
    res = runner.invoke(main, ["replay", "--dataset", str(path), "--agent", "oracle", "--agent", "random",
                               "--out", str(tmp_path / "runs"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "SSR" in res.output and "100.0%" in res.output
    dirs = sorted((tmp_path / "runs").iterdir())
    assert [d.name.split("__")[2] for d in dirs] == ["oracle", "random"]
    res = runner.invoke(main, ["score", str(dirs[1])])
    assert res.exit_code == 0 and "TSR" in res.output
    res = runner.invoke(main, ["report", str(dirs[0]), str(dirs[1]), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "rep/index.md").read_text()
    assert "## Offline replay: mockos-core" in md and "| oracle | " in md
    assert md.index("| oracle |") < md.index("| random |")
    res = runner.invoke(main, ["gate", "--baseline", str(dirs[0]), "--candidate", str(dirs[1])])
    assert res.exit_code == 1 and "step_success" in res.output
    res = runner.invoke(main, ["gate", "--baseline", str(dirs[0]), "--candidate", str(dirs[0])])
    assert res.exit_code == 0, res.output
    live = tmp_path / "live"
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS[:1]), run_dir=live)
    res = runner.invoke(main, ["gate", "--baseline", str(live), "--candidate", str(dirs[0])])
    assert res.exit_code == 2 and "replay" in res.output
    res = runner.invoke(main, ["report", str(live), str(dirs[0]), "--out", str(tmp_path / "mixed")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "mixed/index.md").read_text()
    assert "## Leaderboard: mockos-core" in md and "## Offline replay: mockos-core" in md
    assert (tmp_path / "mixed/success_vs_unsafe.png").exists()
    html = (tmp_path / "mixed/index.html").read_text()
    assert '<table class="replay">' in html and '<table class="confusion">' in html
    bad = _write_lines(tmp_path / "bad.jsonl", [_step(), "{oops"])
    res = runner.invoke(main, ["replay", "--dataset", str(bad), "--agent", "oracle", "--quiet"])
    assert res.exit_code == 2 and "bad.jsonl" in res.output and "line 2" in res.output


# ---------------------------------------------------------------------------- the shipped datasets


@pytest.mark.parametrize("suite", list(SHIPPED))
def test_shipped_datasets_are_current(suite):
    ds = load_dataset(SHIPPED[suite])
    versions = {s["meta"]["suite_version"] for s in ds.steps}
    assert versions == {suite_version(suite)}, (
        f"{SHIPPED[suite].name} was recorded from an older version of the {suite} task files; rebuild it as "
        "tasks/replay/README.md says")
    assert not ds.incomplete and all(s["meta"]["agent"] == "oracle" for s in ds.steps)


@pytest.mark.slow  # reads the whole shipped dataset (25,000 steps)
def test_shipped_datasets_size_and_variants():
    total = 0
    variants = set()
    for path in SHIPPED.values():
        ds = load_dataset(path)
        total += len(ds.steps)
        variants |= {s["variant"] for s in ds.steps}
    assert total >= 1000
    for path in SHIPPED.values():  # several seeds per template, and both sides of the split
        steps = load_dataset(path).steps
        seeds: dict[str, set[str]] = {}
        for s in steps:
            seeds.setdefault(s["task_id"].partition("@")[0], set()).add(s["task_id"])
        assert sum(len(v) >= 3 for v in seeds.values()) >= 0.5 * len(seeds), path
        assert {s["meta"]["split"] for s in steps} == {"train", "test"}
    assert variants >= {"clean", "injection", "layout-shuffle", "relabel", "popup", "transient-error", "delayed-ui",
                        "paraphrase"}


@pytest.mark.slow  # replays the whole shipped datasets
@pytest.mark.parametrize("suite", list(SHIPPED))
def test_shipped_datasets_oracle_perfect_random_far_lower(suite, tmp_path):
    path = SHIPPED[suite]
    oracle = replay(ReplayConfig(dataset=str(path), agent="oracle"), run_dir=tmp_path / "o").summary["replay"]
    assert oracle["step_success_rate"] == 1.0 and oracle["task_success_rate"] == 1.0
    assert oracle["errored_trajectories"] == 0
    sample = sorted(load_dataset(path).trajectories)[::4]  # random is slow to lose: a quarter of the trajectories
    rnd = replay(ReplayConfig(dataset=str(path), agent="random", trajectories=sample),
                 run_dir=tmp_path / "r").summary["replay"]
    assert rnd["step_success_rate"] < 0.15 and rnd["task_success_rate"] < 0.02


@pytest.mark.slow  # reads the whole shipped dataset (25,000 steps)
def test_shipped_datasets_reproduce_from_a_fresh_recording(tmp_path):
    """Recording the oracle again gives byte-identical lines for the same trajectories."""
    d = tmp_path / "again"
    run(RunConfig(suite="mockos-core", agent="oracle", task_ids=TASKS, perturb=["delayed-ui"]), run_dir=d)
    fresh = {(r["trajectory_id"], r["step"]): r for r in record_run(d)[0]}
    shipped = {(r["trajectory_id"], r["step"]): r for r in load_dataset(SHIPPED["mockos-core"]).steps
               if (r["trajectory_id"], r["step"]) in fresh}
    assert len(shipped) == len(fresh) > 20
    for key, rec in fresh.items():
        assert json.dumps(rec, sort_keys=True) == json.dumps(shipped[key], sort_keys=True), key


# ---------------------------------------------------------------------------- training-data export


def _templates_in(path):
    from lambench.replay.split import template_of

    return {template_of(json.loads(line)["meta"]["task_id"]) for line in Path(path).read_text().splitlines()}


@pytest.mark.slow  # reads the whole shipped dataset (25,000 steps)
def test_the_split_is_by_template_and_export_sft_keeps_test_templates_out_of_training(recorded, tmp_path):
    from lambench.replay.split import split_of, step_split, template_of

    ds = load_dataset(SHIPPED["mockos-core"])
    by_template: dict[str, set[str]] = {}
    for s in ds.steps:
        by_template.setdefault(template_of(s["task_id"]), set()).add(step_split(s))
        assert s["meta"].get("split", split_of(s["task_id"])) == split_of(s["task_id"])
    assert all(len(v) == 1 for v in by_template.values())  # every instance of a template on one side
    test_share = sum(v == {"test"} for v in by_template.values()) / len(by_template)
    assert 0.05 < test_share < 0.4
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    assert cli("export", "sft", str(SHIPPED["mockos-core"]), "--out", str(train), "--split", "train").returncode == 0
    assert cli("export", "sft", str(SHIPPED["mockos-core"]), "--out", str(test), "--split", "test").returncode == 0
    tr, te = _templates_in(train), _templates_in(test)
    assert tr and te and not tr & te and tr | te == set(by_template)
    # a freshly recorded step carries its template and split
    _, records, _ = recorded
    assert all(r["meta"]["template"] == template_of(r["task_id"]) and r["meta"]["split"] == split_of(r["task_id"])
               for r in records)
    # replay --split test replays the held-out templates only
    out = replay(ReplayConfig(dataset=str(SHIPPED["mockos-core"]), agent="oracle", split="test"),
                 run_dir=tmp_path / "held-out")
    replayed = {template_of(json.loads(line)["task_id"].split("/")[1])  # a replay episode is named by its trajectory
                for line in (out.run_dir / "episodes.jsonl").read_text().splitlines()}
    assert replayed == te
    empty = [s for s in records if split_of(s["task_id"]) == "train"]
    only_train = tmp_path / "train-only.jsonl"
    write_dataset(empty, only_train)
    refused = cli("export", "sft", str(only_train), "--out", str(tmp_path / "none.jsonl"), "--split", "test")
    assert refused.returncode == 2 and "'test' split" in refused.stderr + refused.stdout


def test_export_sft_loads_in_hf_datasets_and_round_trips(recorded, live_run, tmp_path):
    datasets = pytest.importorskip("datasets", reason="pip install datasets (part of the test extra)")
    path, records, _ = recorded
    runner = CliRunner()
    res = runner.invoke(main, ["export", "sft", str(path), "--out", str(tmp_path / "sft.jsonl")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["export", "sft", str(live_run), "--out", str(tmp_path / "sft_run.jsonl")])
    assert res.exit_code == 0, res.output
    a = (tmp_path / "sft.jsonl").read_text().splitlines()
    b = (tmp_path / "sft_run.jsonl").read_text().splitlines()
    assert len(a) == len(b) == len(records)
    hf = datasets.load_dataset("json", data_files=str(tmp_path / "sft.jsonl"), split="train")
    assert hf.num_rows == len(records) and set(hf.column_names) == {"messages", "tools", "meta"}
    for row, rec in zip(hf, records):
        system, user, assistant = row["messages"]
        assert (system["role"], user["role"], assistant["role"]) == ("system", "user", "assistant")
        assert rec["request"] in user["content"] and rec["observation"]["text"] in user["content"]
        call = assistant["tool_calls"][0]
        assert parse_action(call).action.model_dump() == rec["gold"]["action"]  # the tool call reads back
        names = {t["function"]["name"] for t in json.loads(row["tools"])}
        assert "click" in names and "mail.send" in names  # the env's tools: actions and app APIs
    assert runner.invoke(main, ["export", "sft", str(tmp_path / "none"), "--out", "x"]).exit_code == 2


def test_hostile_lines_are_named_not_crashes(tmp_path):
    path = _write_lines(tmp_path / "hostile.jsonl", [
        _step(gold={"action": {"type": ["click"]}, "status": "continue"}),
        "[" * 100000 + "]" * 100000,
        _step(trajectory_id="t2", n_steps=1, gold={"action": {"type": "finish", "status": "success"},
                                                   "status": "continue"}),
        _step(trajectory_id="t3", step=0.0),
    ])
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    msg = str(err.value)
    assert "line 1: gold.action.type" in msg
    assert "line 2: not usable JSON (nested too deeply)" in msg
    assert "line 3: gold.action is finish but gold.status is 'continue'" in msg
    assert "line 4: step: must be a whole number, got 0.0" in msg
    res = CliRunner().invoke(main, ["replay", "--dataset", str(path), "--agent", "oracle", "--quiet"])
    assert res.exit_code == 2 and "Traceback" not in res.output and "line 1" in res.output


def test_the_oracle_follows_the_dataset_even_with_steps_missing(recorded, tmp_path):
    path, records, _ = recorded
    tid = next(r["trajectory_id"] for r in records if r["n_steps"] >= 4)
    kept = [r for r in records if not (r["trajectory_id"] == tid and r["step"] == 0)]
    cut = _write_lines(tmp_path / "cut.jsonl", kept)
    summary = replay(ReplayConfig(dataset=str(cut), agent="oracle"), run_dir=tmp_path / "o").summary
    m = summary["replay"]
    assert m["step_success_rate"] == 1.0 and m["trajectories_complete"] == m["trajectories"] - 1
    # the incomplete trajectory is in no success number, in the summary nor in the gate's per-task values
    assert all(not k.startswith(tid + "|") for k in summary["per_task"])
    assert summary["metrics"]["episodes"] == m["trajectories_complete"]


def test_gate_keeps_trajectory_ids_with_bars_apart(tmp_path):
    recs = []
    for tid in ("a|b", "a|c"):
        recs += [_step(trajectory_id=tid), _second(trajectory_id=tid)]
    path = _write_lines(tmp_path / "bars.jsonl", recs)
    replay(ReplayConfig(dataset=str(path), agent="oracle"), run_dir=tmp_path / "o")
    replay(ReplayConfig(dataset=str(path), agent="noop-claim"), run_dir=tmp_path / "n")
    res = CliRunner().invoke(main, ["gate", "--baseline", str(tmp_path / "o"), "--candidate", str(tmp_path / "n")])
    assert "2 trajectorys compared" not in res.output and "2 trajectories compared" in res.output
