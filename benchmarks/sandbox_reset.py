"""Container sandbox speed: what an episode waits for, against bare Docker measured in the same run.

Prints, as medians over ``--n`` repetitions:

- bare cold start: ``docker run`` (detached, no network) of the shell image + the first ``docker exec``;
- lambench shell-env reset (``env.reset``: a fresh container from the warm pool, the task's files
  written, the initial manifest taken), with one step between resets as in a real run;
- a bare ``docker exec`` round trip (``true``) in a running container;
- a lambench shell step (``env.step`` of ``{"type": "shell", "command": "true"}``, safety rules included).

Targets (issue #3): reset <= 0.5x the bare cold start; step <= 0.5x a docker exec round trip.

    python benchmarks/sandbox_reset.py [--n 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import lambench  # noqa: F401
from lambench.env import LamEnv
from lambench.sandboxes.containers import get_client, image_for
from lambench.task import Task


def _task() -> Task:
    return Task.model_validate({
        "id": "bench-shell", "suite": "bench", "sandbox": "shell", "instruction": "benchmark",
        "setup": {"files": {"~/proj/README.md": "# proj\n", "~/proj/src/main.py": "print('hi')\n"},
                  "dirs": ["~/proj/build"]},
        "checks": [{"file_exists": {"path": "~/never"}}], "gold": [{"type": "finish", "status": "success"}],
        "max_steps": 500})


def bare_cold_start(client, image: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        c = client.containers.run(image, ["sleep", "infinity"], detach=True, network_mode="none")
        c.exec_run(["true"])
        out.append(time.perf_counter() - t)
        c.remove(force=True)
    return out


def bare_exec(client, image: str, n: int) -> list[float]:
    c = client.containers.run(image, ["sleep", "infinity"], detach=True, network_mode="none")
    try:
        c.exec_run(["true"])
        out = []
        for _ in range(n):
            t = time.perf_counter()
            res = c.exec_run(["true"])
            out.append(time.perf_counter() - t)
            assert res.exit_code == 0
        return out
    finally:
        c.remove(force=True)


def env_resets(env: LamEnv, n: int) -> list[float]:
    out = []
    for i in range(n):
        time.sleep(0.3)  # an episode's agent thinking: the pool refills meanwhile, as in a real run
        t = time.perf_counter()
        env.reset(seed=i)
        out.append(time.perf_counter() - t)
        env.step({"type": "shell", "command": "ls proj"})
    return out


def env_steps(env: LamEnv, n: int) -> list[float]:
    env.reset(seed=0)
    env.step({"type": "shell", "command": "true"})
    out = []
    for _ in range(n):
        t = time.perf_counter()
        _, _, _, _, info = env.step({"type": "shell", "command": "true"})
        out.append(time.perf_counter() - t)
        assert info["ok"], info
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    image = image_for("shell")
    client = get_client()
    env = LamEnv(_task())
    env.reset(seed=0)  # the warm pool's first fill is a one-time start-up cost, not a reset
    try:
        cold = statistics.median(bare_cold_start(client, image, args.n))
        reset = statistics.median(env_resets(env, args.n))
        exec_rt = statistics.median(bare_exec(client, image, args.n * 5))
        step = statistics.median(env_steps(env, args.n * 5))
    finally:
        env.close()
        client.close()
    rows = {
        "bare docker run + first exec (ms)": round(cold * 1000, 1),
        "lambench shell reset (ms)": round(reset * 1000, 1),
        "reset / cold start": round(reset / cold, 3),
        "bare docker exec round trip (ms)": round(exec_rt * 1000, 1),
        "lambench shell step (ms)": round(step * 1000, 1),
        "step / docker exec": round(step / exec_rt, 3),
    }
    width = max(map(len, rows))
    for k, v in rows.items():
        print(f"{k:<{width}}  {v}")
    print(f"targets: reset/cold <= 0.5 ({'met' if reset / cold <= 0.5 else 'MISSED'}), "
          f"step/exec <= 0.5 ({'met' if step / exec_rt <= 0.5 else 'MISSED'})")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
