"""Statistics of lambench's metrics: pass@k estimators, intervals clustered by task, paired tests.

Confidence intervals for rates over episodes that are clustered by task.

Trials of one task are not independent samples: a deterministic agent run three times gives the
same outcome three times, which is no more evidence than one trial.  Every rate of
:mod:`lambench.metrics.episode` is therefore given an interval clustered by task:

- with at most one counted episode per task, the Wilson score interval over episodes;
- otherwise the wider of (a) the 95% percentile interval of a two-level bootstrap (resample the
  tasks with replacement, then each drawn task's trials with replacement; 2,000 resamples with a
  fixed seed, so a summary is reproducible) and (b) the Wilson interval over *tasks* (each task
  counted once, at the rate's point estimate).  (b) is the interval one trial per task would
  get; it bounds how much repeating trials can narrow an interval, so three identical trials are
  never reported as more precise than one.

A rate is ``sum(numerator) / sum(denominator)`` over episodes, each episode giving a pair of
numbers (for the success rate ``(success, 1)``; for the false-success rate ``(false, claimed)``).

>>> [round(x, 4) for x in wilson_interval(8, 10)]
[0.4902, 0.9433]
>>> clustered_interval({"a": [(1, 1)], "b": [(0, 1)]}) == wilson_interval(1, 2)
True

The CI gate compares runs task by task: with one binary value per task on both sides by an exact
one-sided McNemar test, otherwise by a one-sided paired sign-flip permutation test, Holm-corrected
over the metrics compared.

>>> round(mcnemar_one_sided(worse=6, better=0), 4)
0.0156
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "Z_95", "bootstrap_ratio_ci", "clustered_interval", "holm",
           "mcnemar_one_sided", "pass_at_k", "pass_hat_k", "sign_flip_test", "wilson_interval"]

Z_95 = 1.959963984540054
"""Two-sided 95% normal quantile."""

BOOTSTRAP_RESAMPLES = 2000
"""Resamples of the two-level bootstrap."""

BOOTSTRAP_SEED = 0
"""Seed of the two-level bootstrap: the same episodes always give the same interval."""


def wilson_interval(successes: float, n: float, *, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0.0, 1.0)`` when ``n == 0``.

    ``successes`` may be fractional (a rate times a number of tasks).

    >>> [round(x, 4) for x in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(max(0.0, p * (1.0 - p) / n + z2 / (4 * n * n))) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def _two_level_bootstrap(clusters: Sequence[Sequence[tuple[float, float]]], *, resamples: int, seed: int,
                         level: float) -> tuple[float, float] | None:
    """Percentile interval of sum(num)/sum(den) under resampling clusters, then episodes within each."""
    import numpy as np

    sizes = np.asarray([len(c) for c in clusters])
    n_clusters, width = len(clusters), int(sizes.max())
    num = np.zeros((n_clusters, width))
    den = np.zeros((n_clusters, width))
    for i, cluster in enumerate(clusters):
        for j, (a, b) in enumerate(cluster):
            num[i, j], den[i, j] = a, b
    rng = np.random.default_rng(seed)
    ratios = []
    chunk = max(1, 4_000_000 // max(1, n_clusters * width))
    done = 0
    while done < resamples:
        b = min(chunk, resamples - done)
        picked = rng.integers(0, n_clusters, size=(b, n_clusters))            # tasks, with replacement
        within = np.floor(rng.random((b, n_clusters, width)) * sizes[picked][..., None]).astype(int)  # trials
        rows = picked[..., None]
        tot_num = num[rows, within].sum(axis=(1, 2))
        tot_den = den[rows, within].sum(axis=(1, 2))
        ok = tot_den > 0
        ratios.append(tot_num[ok] / tot_den[ok])
        done += b
    values = np.sort(np.concatenate(ratios))
    if values.size == 0:
        return None
    tail = (1.0 - level) / 2
    return (float(np.quantile(values, tail)), float(np.quantile(values, 1.0 - tail)))


def clustered_interval(clusters: Mapping[object, Sequence[tuple[float, float]]], *, level: float = 0.95,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95% interval of ``sum(num) / sum(den)`` over episodes grouped in clusters (tasks).

    ``clusters`` maps a task to its episodes' ``(numerator, denominator)`` pairs; episodes with
    denominator 0 do not count (e.g. episodes that claimed nothing, for the false-success rate).
    ``(0.0, 1.0)`` when nothing counts.  See the module docstring for the method.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    # clusters and their episodes in a fixed order: a parallel run lists episodes as they finish, and the
    # resampling draws positions, so the interval would move with that order
    kept = [sorted((float(a), float(b)) for a, b in eps if b)
            for _, eps in sorted(clusters.items(), key=lambda item: repr(item[0]))]
    kept = [c for c in kept if c]
    num = sum(a for c in kept for a, _ in c)
    den = sum(b for c in kept for _, b in c)
    if not den:
        return (0.0, 1.0)
    z = _normal_quantile(0.5 + level / 2)
    if all(len(c) == 1 for c in kept) and all(b == 1 for c in kept for _, b in c):
        return wilson_interval(num, den, z=z)  # one counted episode per task: independent samples
    p = num / den
    n_tasks = len(kept)
    by_task = wilson_interval(min(float(n_tasks), max(0.0, p * n_tasks)), n_tasks, z=z)
    boot = _two_level_bootstrap(kept, resamples=resamples, seed=seed, level=level)
    if boot is None:
        return by_task
    return (max(0.0, min(by_task[0], boot[0])), min(1.0, max(by_task[1], boot[1])))


def _normal_quantile(q: float) -> float:
    """Inverse of the standard normal CDF (exact to ~1e-9 by bisection; only called with a few levels)."""
    if abs(q - 0.975) < 1e-12:
        return Z_95
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


# --------------------------------------------------------------------------- pass@k


def _check_nck(n: int, c: int, k: int) -> None:
    if n < 1:
        raise ValueError(f"n (trials) must be >= 1, got {n}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > n:
        raise ValueError(f"k={k} is larger than the number of trials n={n}; run more trials or lower k")
    if not 0 <= c <= n:
        raise ValueError(f"c (successes) must be between 0 and n={n}, got {c}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k trials drawn from n (c successful) succeeds.

    ``1 - C(n-c, k) / C(n, k)`` (unbiased estimator of Chen et al., 2021).

    >>> pass_at_k(4, 1, 2)
    0.5
    """
    _check_nck(n, c, k)
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Chance that all of k trials drawn from n (c successful) succeed: ``C(c, k) / C(n, k)``.

    The reliability measure pass^k of tau-bench.

    >>> pass_hat_k(4, 3, 2)
    0.5
    """
    _check_nck(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


# --------------------------------------------------------------------------- paired bootstrap and tests


def bootstrap_ratio_ci(pairs: list[tuple[float, float]], *, resamples: int = 2000, seed: int = 0
                       ) -> list[float | None]:
    """Paired bootstrap over tasks of sum(perturbed)/sum(clean); [low, high] at 95%."""
    import numpy as np

    if not pairs:
        return [None, None]
    arr = np.asarray(sorted(pairs), dtype=float)  # a fixed order: the resampling draws positions
    idx = np.random.default_rng(seed).integers(0, len(arr), size=(resamples, len(arr)))
    clean, pert = arr[idx, 0].sum(axis=1), arr[idx, 1].sum(axis=1)
    ok = clean > 0
    if not ok.any():
        return [None, None]
    ratios = np.sort(pert[ok] / clean[ok])
    return [float(ratios[int(0.025 * (len(ratios) - 1))]), float(ratios[int(0.975 * (len(ratios) - 1))])]


def mcnemar_one_sided(*, worse: int, better: int) -> float:
    """Exact one-sided McNemar p-value: the chance of ``worse`` or more of the discordant tasks
    going the candidate's bad way if both were equally good."""
    n = worse + better
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(worse, n + 1)) / 2 ** n


def sign_flip_test(diffs: list[float], *, samples: int = 20000, seed: int = 0) -> float:
    """One-sided paired permutation (sign-flip) test that the mean per-task difference is > 0
    (candidate worse) only by chance.  Exact for up to 16 non-zero differences, Monte Carlo above;
    for one binary value per task and side it equals the exact McNemar test."""
    import numpy as np

    d = np.asarray(sorted(x for x in diffs if x != 0), dtype=float)  # a fixed order, as the draws are positional
    if d.size == 0:
        return 1.0
    observed = d.sum()
    if d.size <= 16:
        signs = ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1) * 2 - 1
        totals = signs @ np.abs(d)
        return float((totals >= observed - 1e-12).mean())
    rng = np.random.default_rng(seed)
    hits, done, chunk = 0, 0, max(1, min(samples, 4_000_000 // d.size))
    while done < samples:
        n = min(chunk, samples - done)
        signs = rng.integers(0, 2, size=(n, d.size)) * 2 - 1
        hits += int(((signs * np.abs(d)).sum(axis=1) >= observed - 1e-12).sum())
        done += n
    return (hits + 1) / (samples + 1)


def holm(p_values: Sequence[float], alpha: float) -> dict[int, float]:
    """Holm's step-down correction (family-wise ``alpha``): ``{index: threshold}`` of the rejected
    hypotheses, each with the threshold its p-value was held to.

    >>> holm([0.01, 0.04, 0.03], 0.05)
    {0: 0.016666666666666666}
    """
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    rejected: dict[int, float] = {}
    for rank, i in enumerate(order):
        threshold = alpha / (len(order) - rank)
        if p_values[i] >= threshold:
            break
        rejected[i] = threshold
    return rejected
