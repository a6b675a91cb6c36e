"""Metrics: pure computations over episode records (no I/O, no rendering).

- :mod:`lambench.metrics.episode`: the headline metrics of live episodes (SR, CuP, UAR, FSR, ...),
  robustness, injection, and the metrics of each group of a field (``grouped_metrics``);
- :mod:`lambench.metrics.per_task`: per-task values kept in ``summary.json`` for paired comparisons;
- :mod:`lambench.metrics.replay`: the LAM paper's step metrics of offline replay;
- :mod:`lambench.metrics.stats`: pass@k, Wilson and clustered bootstrap intervals, McNemar, sign-flip, Holm.
"""

from __future__ import annotations

from lambench.metrics.episode import (BUDGETS, CLAIMS, compute_metrics, grouped_metrics, injection_metrics,
                                      is_unsafe, robustness)
from lambench.metrics.per_task import DERIVED_PER_TASK_FIELDS, PER_TASK_FIELDS, per_task_values
from lambench.metrics.stats import (Z_95, clustered_interval, mcnemar_one_sided, pass_at_k, pass_hat_k,
                                    sign_flip_test, wilson_interval)

__all__ = ["BUDGETS", "CLAIMS", "DERIVED_PER_TASK_FIELDS", "PER_TASK_FIELDS", "Z_95", "clustered_interval",
           "compute_metrics", "grouped_metrics", "injection_metrics", "is_unsafe", "mcnemar_one_sided", "pass_at_k",
           "pass_hat_k", "per_task_values", "robustness", "sign_flip_test", "wilson_interval"]
