"""Agents built to fail in known ways (used by runner, CLI and scorer tests)."""

import os
import random
import time


class _OracleWrapper:
    """The oracle inside another agent (privileged: the runner binds the task)."""

    privileged = True

    def __init__(self, seed=0):
        from lambench.agents.baseline import OracleAgent

        self.inner = OracleAgent()

    def bind(self, task, variant=None):
        self.inner.bind(task, variant)

    def reset(self, task):
        self.task_id = task.id
        self.inner.reset(task)


class SlowOracle(_OracleWrapper):
    """The oracle, slowed down: lets tests kill a run mid-way."""

    def act(self, obs):
        time.sleep(float(os.environ.get("LAMBENCH_TEST_SLEEP", "0.02")))
        return self.inner.act(obs)


class RaisingAgent:
    def reset(self, task):
        pass

    def act(self, obs):
        raise ValueError("model backend exploded")


class GarbageAgent:
    """Emits random text and bytes, never a valid action."""

    def __init__(self, seed=0):
        self.rng = random.Random(seed)

    def reset(self, task):
        pass

    def act(self, obs):
        r = self.rng.random()
        if r < 0.3:
            return bytes(self.rng.randrange(256) for _ in range(20))
        if r < 0.6:
            return "".join(chr(self.rng.randrange(32, 0x2FFF)) for _ in range(40))
        if r < 0.8:
            return {"type": "click"}
        return 12345


class SleepyAgent:
    def reset(self, task):
        pass

    def act(self, obs):
        time.sleep(5)
        return {"type": "finish", "status": "success"}


class DyingAgent:
    """Kills its own process: a worker crash."""

    def reset(self, task):
        pass

    def act(self, obs):
        os._exit(3)


class NoActMethod:
    def reset(self, task):
        pass


class KillOnOneTask(_OracleWrapper):
    """Kills its worker on one task only; the oracle elsewhere."""

    def act(self, obs):
        if self.task_id == "mail-send-report@0":  # one instance of the template
            os._exit(3)
        time.sleep(0.05)
        return self.inner.act(obs)


class FlakyOnce:
    """Raises on its first episode in a fresh process marker file, then behaves (for resume tests)."""

    def reset(self, task):
        pass

    def act(self, obs):
        marker = os.environ["LAMBENCH_TEST_MARKER"]
        if not os.path.exists(marker):
            raise ConnectionError("backend unreachable")
        return {"type": "finish", "status": "failure"}


class DegradedOracle(_OracleWrapper):
    """The oracle, except on a fixed share of tasks where it claims success at once (a regression)."""

    SHARE = 3

    def reset(self, task):
        import zlib

        super().reset(task)
        self.broken = zlib.crc32(task.id.encode()) % self.SHARE == 0

    def act(self, obs):
        if self.broken:
            return {"type": "finish", "status": "success"}
        return self.inner.act(obs)


class ScriptAgent:
    """Runs a fixed list of actions, then claims success (containment and sandbox tests)."""

    def __init__(self, actions, seed=0):
        self.actions = list(actions)

    def reset(self, task):
        self.i = 0
        self.seen = []

    def act(self, obs):
        self.seen.append(obs)
        if self.i < len(self.actions):
            self.i += 1
            a = self.actions[self.i - 1]
            return {"type": "shell", "command": a} if isinstance(a, str) else a
        return {"type": "finish", "status": "success", "message": "done"}


def torn_result_job(i: int, bad: int) -> dict:
    """A pool job; job ``bad`` dies as a worker killed while sending a large result does: a message header and part
    of its body in the result pipe, then the process is gone."""
    if i == bad:
        import struct
        import sys

        frame = sys._getframe()
        while frame.f_code.co_name != "_serve":  # the pool worker's loop holds its pipe to the run
            frame = frame.f_back
        os.write(frame.f_locals["conn"].fileno(), struct.pack("!i", 1 << 20) + b"part of a result")
        os._exit(9)
    time.sleep(0.02)
    return {"job": i, "error": None, "wall_time_s": 0.02}


class LoadsBadly:
    """Pickles, but its pickle does not load (``int("not a number")``): an episode argument or a record that
    crosses the pool's pipe one way and breaks on the other side."""

    def __reduce__(self):
        return (int, ("not a number",))


def job_with_arg(i: int, arg: object = None) -> dict:
    return {"job": i, "error": None}


def job_whose_record_loads_badly(i: int, bad: int) -> dict:
    return {"job": i, "error": None, "extra": LoadsBadly() if i == bad else None}


class PointerOracle(_OracleWrapper):
    """The oracle, aiming with the mouse: each click at the centre of its control's box on the screen, each text
    typed after clicking the field (``type`` without a target, into the focused field).  Needs an image
    observation mode (the controls carry their boxes)."""

    def reset(self, task):
        super().reset(task)
        self.pending = None

    def act(self, obs):
        dialog = any(c["role"] == "dialog" for c in obs.controls)
        if self.pending is not None and not dialog:  # (a dialog that popped up in between is answered first)
            out, self.pending = self.pending, None
            return out
        action = self.inner.act(obs)
        action = action.model_dump() if hasattr(action, "model_dump") else dict(action)
        if action.get("type") not in ("click", "type") or not action.get("target"):
            return action
        target = str(action["target"]).strip("[]")
        hits = [c for c in obs.controls if c["label"] == target] or [
            c for c in obs.controls if c["name"].lower() == target.lower()]
        box = hits[0]["box"]
        assert box is not None, f"control {hits[0]} is not on the screen (the layout ran out of room)"
        point = {"x": (box[0] + box[2]) // 2, "y": (box[1] + box[3]) // 2}
        if action["type"] == "click":
            return {"type": "click", **point}
        self.pending = {"type": "type", "text": action["text"]}
        return {"type": "click", **point}


class RandomPointer:
    """Hostile pointing: random points anywhere (also off the screen), double clicks, drags, scrolls at points,
    typing with and without a focused field, garbage coordinate text, and claims of success."""

    def __init__(self, seed=0):
        self.seed = seed

    def reset(self, task):
        self.rng = random.Random(f"{self.seed}:{task.id}")

    def act(self, obs):
        rng = self.rng
        point = lambda: {"x": rng.randint(-40, 1100), "y": rng.randint(-40, 800)}  # noqa: E731
        roll = rng.random()
        if roll < 0.04:
            return {"type": "finish", "status": "success"}
        if roll < 0.35:
            return {"type": "click", **point()}
        if roll < 0.45:
            return {"type": "double_click", **point()}
        if roll < 0.55:
            p = point()
            return {"type": "drag", **p, "to_x": rng.randint(0, 1023), "to_y": rng.randint(0, 767)}
        if roll < 0.62:
            return {"type": "scroll", **point(), "direction": rng.choice(["up", "down"])}
        if roll < 0.75:
            return {"type": "type", "text": rng.choice(["", "x" * 5000, "Bob", "'; DROP TABLE", "\u202e\u0000é"])}
        if roll < 0.85:
            return rng.choice(["click(1e9, 3)", "click(12, )", '{"x": "a", "y": 2}', "double_click(-5, -5)",
                               '{"type": "click", "x": 1, "y": 2, "target": "3"}', "scroll(1, 2, 'sideways')"])
        c = rng.choice(obs.controls) if obs.controls else None
        if c is not None and c.get("box"):
            x0, y0, x1, y1 = c["box"]
            return {"type": "click", "x": rng.randint(x0, x1 - 1), "y": rng.randint(y0, y1 - 1)}
        return {"type": "wait"}
