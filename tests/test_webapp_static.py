"""Plain ``tasks validate`` checks a web-app task's API calls against the app's own route table, without Docker:
a misspelt operation, an argument the operation does not take or a missing required one is a load error naming
it. The table is the one the running app serves (compared with a real server process here)."""

import copy

import pytest
import yaml

from lambench.sandboxes.webapp.plugin import static_operations
from lambench.sandboxes.webapp.sandbox import tools_from_openapi
from lambench.task import validate_paths
from lambench.task.loader import source_data, get_task
from tests.test_webapp_app import App

BASE = "wa-claims-approve-laundry"


def _write(tmp_path, mutate):
    data = copy.deepcopy(source_data(get_task(BASE)))
    data["suite"], data["id"] = "probe", "probe-task"
    data.pop("instance", None)  # an instance of a template: keep it as the plain task it is
    mutate(data)
    path = tmp_path / "probe-task.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return validate_paths([path])


def _gold_call(data, i):
    return [a for a in data["gold"] if a.get("type") == "call"][i]


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: _gold_call(d, 0).update(tool="getClaimz"), "calls 'getClaimz', which the web app does not have. "
                                                           "Did you mean 'getClaim'?"),
    (lambda d: _gold_call(d, 0)["args"].update(claim_idd=9), "unknown argument(s) claim_idd"),
    (lambda d: _gold_call(d, 0)["args"].pop("claim_id"), "no claim_id (required)"),
    (lambda d: d.update(damaging_routes=[{"name": "pay", "actions": [{"type": "call", "tool": "payClaimNow",
                                                                      "args": {"claim_id": 9}}]}]),
     "damaging_routes[0].actions[0] calls 'payClaimNow'"),
])
def test_a_bad_api_call_is_a_load_error_without_docker(tmp_path, mutate, fragment):
    good, errors = _write(tmp_path, mutate)
    assert not good and len(errors) == 1
    assert fragment in str(errors[0]), str(errors[0])


def test_the_unchanged_task_loads(tmp_path):
    good, errors = _write(tmp_path, lambda d: None)
    assert good and not errors


def test_the_static_table_is_what_the_running_app_serves(tmp_path):
    app = App(tmp_path / "app.db", tmp_path)
    try:
        status, spec = app.call("GET", "/openapi.json", user=None)
    finally:
        app.stop()
    assert status == 200
    served = tools_from_openapi(spec)[1]
    assert served == static_operations() and "updateClaim" in served
