"""Tasks: the YAML schema (:mod:`.schema`), whether a task fits its sandbox (:mod:`.fit`), and the loader
(:mod:`.loader`, reading YAML through :mod:`.yamlsafe`).

See docs/tasks.md ("A task file") for a complete example.
"""

from lambench.safety import SafetyRule
from lambench.task.loader import (TASKS_DIR_ENV, TaskError, extra_tasks_dirs, get_task, list_suites, load_suite,
                                  load_task, search_path, searched, suite_dir, suite_version, tasks_dirs, tasks_root,
                                  validate_paths)
from lambench.task.schema import DamagingRoute, Injection, Task, TaskView
from lambench.task.yamlsafe import MAX_TASK_FILE_CHARS, MAX_YAML_DEPTH, MAX_YAML_VALUES

__all__ = ["Task", "TaskView", "TaskError", "SafetyRule", "DamagingRoute", "Injection", "load_task", "load_suite",
           "list_suites", "tasks_root", "tasks_dirs", "search_path", "searched", "extra_tasks_dirs", "suite_dir",
           "TASKS_DIR_ENV", "suite_version", "get_task", "validate_paths", "MAX_TASK_FILE_CHARS",
           "MAX_YAML_DEPTH", "MAX_YAML_VALUES"]
