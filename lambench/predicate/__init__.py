"""Declarative predicates for task checks and safety rules, from one registry.

A predicate is written in a task file as a one-key mapping, ``{name: {arg: value}}``::

    checks:
      - file_exists: {path: ~/Documents/notes.txt}
      - not: {mail_sent_outside: {}}
      - unchanged_except: {allow: ["fs:/home/user/Documents/notes.txt"]}

*State* predicates read the world state (and the initial state, for diffs); *event*
predicates match the canonical operations (``ops``) one step performed.  Checks use state
predicates; safety rules may use either.  Arguments are validated by pydantic models that
forbid unknown keys, so a typo is a load error, not a silently ignored field.

This package holds the registry (:mod:`.core`) and the generic predicates (files, diffs, events,
secrets); a sandbox's own predicates live in its package (``lambench/sandboxes/<name>/predicates.py``)
and are registered when the sandbox registry loads its plugin.

>>> sorted(PREDICATES)[:3]
['action_matches', 'all', 'any']
"""

from lambench.predicate.core import (PREDICATES, Args, NoArgs, Predicate, PredicateContext, PredicateError,
                                     PredicateSpec, compile_field, compile_predicate, register, valid_regex)
from lambench.predicate.diffs import diff_states, flatten_state
from lambench.predicate.events import ActionArgs
from lambench.predicate.files import content_of, fs_glob, fs_node, norm_glob
from lambench.predicate.secrets import secret_scan_command, secret_scan_program

__all__ = ["PREDICATES", "Args", "NoArgs", "Predicate", "PredicateContext", "PredicateSpec", "PredicateError",
           "compile_predicate", "compile_field", "register", "valid_regex", "flatten_state", "diff_states",
           "norm_glob", "fs_glob", "fs_node", "content_of", "secret_scan_command", "secret_scan_program",
           "ActionArgs"]
