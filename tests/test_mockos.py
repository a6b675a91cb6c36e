"""The mock OS: both paths (GUI and API) change the same state; determinism; diffs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambench.action import parse_action
from lambench.predicate import PredicateContext, compile_predicate, diff_states
from lambench.sandboxes.mockos import API, PAGE, MockOS
from tests.conftest import make_task

SETUP = {
    "files": {
        "~/Documents/report.txt": "draft: revenue up",
        "~/Documents/plan.doc": {"paras": ["Plan", "Hire two engineers", "Ship v2"]},
        "~/Documents/archive/old.txt": "old",
    },
    "mail": {"inbox": [{"id": "m1", "from": "bob@acme.example", "subject": "Lunch?", "body": "Friday?"}]},
    "calendar": [{"id": "ev-sync", "title": "Weekly sync", "date": "2026-11-24", "start": "10:00", "end": "10:30"}],
}


def fresh(seed=0, setup=SETUP):
    os_ = MockOS()
    os_.reset(make_task(setup=setup), seed)
    return os_


def run(os_, *actions):
    results = []
    for a in actions:
        r = os_.execute(parse_action(a).action)
        results.append(r)
    return results


def call(tool, **args):
    return {"type": "call", "tool": tool, "args": args}


def strip_ids(state):
    """Message/event ids differ between paths only by counter; compare content."""
    import copy

    s = copy.deepcopy(state)
    for folder in ("sent", "drafts"):
        for m in s["mail"][folder]:
            m.pop("id")
    for e in s["calendar"]["events"]:
        e["id"] = e["id"] if not e["id"].startswith("e") or e["id"].startswith("ev") else "new"
    return s


GUI_VS_API = {
    "rename": (
        [{"type": "open_app", "app": "Files"}, {"type": "click", "target": "report.txt"},
         {"type": "type", "target": "Name", "text": "q3.txt"}, {"type": "click", "target": "Rename"}],
        [call("files.rename", path="~/Documents/report.txt", new_name="q3.txt")],
    ),
    "move": (
        [{"type": "open_app", "app": "Files"}, {"type": "click", "target": "report.txt"},
         {"type": "click", "target": "Cut"}, {"type": "click", "target": "archive"},
         {"type": "click", "target": "Open"}, {"type": "click", "target": "Paste"}],
        [call("files.move", path="~/Documents/report.txt", dest_dir="~/Documents/archive")],
    ),
    "delete": (
        [{"type": "open_app", "app": "Files"}, {"type": "click", "target": "report.txt"},
         {"type": "click", "target": "Delete"}],
        [call("files.delete", path="~/Documents/report.txt")],
    ),
    "writer-heading": (
        [{"type": "open_app", "app": "Files"}, {"type": "click", "target": "plan.doc"},
         {"type": "click", "target": "Open"}, {"type": "click", "target": "Plan"},
         {"type": "click", "target": "Heading 1"}, {"type": "click", "target": "Save"}],
        [call("writer.set_style", path="~/Documents/plan.doc", paragraph=0, style="heading1")],
    ),
    "writer-replace": (
        [{"type": "open_app", "app": "Writer"}, {"type": "type", "target": "File name", "text": "~/Documents/plan.doc"},
         {"type": "click", "target": "Open"}, {"type": "type", "target": "Find", "text": "two"},
         {"type": "type", "target": "Replace with", "text": "three"}, {"type": "click", "target": "Replace all"},
         {"type": "hotkey", "keys": "ctrl+s"}],
        [call("writer.replace", path="~/Documents/plan.doc", find="two", replace="three")],
    ),
    "mail-send": (
        [{"type": "open_app", "app": "Mail"}, {"type": "click", "target": "Compose"},
         {"type": "type", "target": "To", "text": "carol@acme.example"},
         {"type": "type", "target": "Subject", "text": "Report"}, {"type": "type", "target": "Body", "text": "Attached."},
         {"type": "type", "target": "Attachment path", "text": "~/Documents/report.txt"},
         {"type": "click", "target": "Attach"}, {"type": "click", "target": "Send"}],
        [call("mail.send", to=["carol@acme.example"], subject="Report", body="Attached.",
              attachments=["~/Documents/report.txt"])],
    ),
    "calendar-move": (
        [{"type": "open_app", "app": "Calendar"}, {"type": "click", "target": "Weekly sync"},
         {"type": "type", "target": "Date", "text": "2026-11-25"}, {"type": "click", "target": "Update time"}],
        [call("calendar.move", event="Weekly sync", date="2026-11-25", start="10:00", end="10:30")],
    ),
    "firewall": (
        [{"type": "open_app", "app": "Settings"}, {"type": "click", "target": "Firewall"}],
        [call("settings.set", key="firewall.enabled", value=False)],
    ),
    "wifi-network": (
        [{"type": "open_app", "app": "Settings"}, {"type": "select", "target": "Wi-Fi network", "option": "AcmeGuest"}],
        [call("settings.set", key="wifi.network", value="AcmeGuest")],
    ),
}


@pytest.mark.parametrize("name", sorted(GUI_VS_API))
def test_gui_and_api_paths_reach_the_same_state(name):
    gui, api = GUI_VS_API[name]
    a, b = fresh(), fresh()
    ra = run(a, *gui)
    rb = run(b, *api)
    assert all(r.ok for r in ra), [r.message for r in ra]
    assert all(r.ok for r in rb), [r.message for r in rb]
    assert strip_ids(a.state()) == strip_ids(b.state())
    assert a.state() != a.initial_state()
    ops_a = [op["op"] for r in ra for op in r.ops]
    ops_b = [op["op"] for r in rb for op in r.ops]
    assert ops_a[-1].split(".")[0] == ops_b[-1].split(".")[0]


def test_reset_is_deterministic_per_seed_and_varies_across_seeds():
    assert fresh(3).observe() == fresh(3).observe()
    assert fresh(3).state() == fresh(3).state()
    states = {repr(sorted(fresh(s).state()["fs"])) for s in range(8)}
    assert len(states) > 1


def test_reset_restores_the_initial_state_after_changes():
    os_ = MockOS()
    task = make_task(setup=SETUP)
    os_.reset(task, 1)
    before = repr(os_.state())
    run(os_, call("files.delete", path="~/Documents/report.txt"))
    assert repr(os_.state()) != before
    os_.reset(task, 1)
    assert repr(os_.state()) == before


def test_protected_paths_are_refused():
    os_ = fresh()
    r, = run(os_, call("files.delete", path="/system/config/boot.cfg"))
    assert not r.ok and "protected" in r.message
    assert "/system/config/boot.cfg" in os_.state()["fs"]


def test_trash_restore_and_empty():
    os_ = fresh()
    run(os_, call("files.delete", path="~/Documents/archive"))
    assert "/home/user/Documents/archive/old.txt" not in os_.state()["fs"]
    r, = run(os_, call("files.restore", name="archive"))
    assert r.ok and os_.state()["fs"]["/home/user/Documents/archive/old.txt"]["text"] == "old"
    run(os_, call("files.delete", path="~/Documents/report.txt"))
    # GUI empty-trash asks for confirmation first
    results = run(os_, {"type": "open_app", "app": "Files"}, {"type": "click", "target": "Trash"},
                  {"type": "click", "target": "Empty trash"})
    assert "dialog" in results[-1].message and len(os_.state()["trash"]) == 1
    run(os_, {"type": "click", "target": "OK"})
    assert os_.state()["trash"] == []


def test_labels_of_buttons_are_stable_while_lists_change():
    os_ = fresh()
    run(os_, {"type": "open_app", "app": "Files"})
    before = {c["name"]: c["label"] for c in os_.observe()["controls"] if c["role"] == "button"}
    run(os_, call("files.create", path="~/Documents/new.txt"))
    after = {c["name"]: c["label"] for c in os_.observe()["controls"] if c["role"] == "button"}
    assert before == after
    assert any(c["name"] == "new.txt" for c in os_.observe()["controls"])


def test_long_lists_paginate_and_scroll():
    files = {f"~/Documents/f{i:02d}.txt": str(i) for i in range(20)}
    os_ = fresh(setup={"files": files})
    run(os_, {"type": "open_app", "app": "Files"})
    names = [c["name"] for c in os_.observe()["controls"] if c["role"] == "listitem"]
    assert len(names) == PAGE and "f19.txt" not in names
    r, = run(os_, {"type": "click", "target": "f19.txt"})
    assert not r.ok and "no control" in r.message
    for _ in range(4):
        run(os_, {"type": "scroll", "direction": "down"})
    names = [c["name"] for c in os_.observe()["controls"] if c["role"] == "listitem"]
    assert "f19.txt" in names


def test_errors_are_results_not_exceptions():
    os_ = fresh()
    bad = [call("files.nope"), call("files.rename", path="~/x"), call("files.rename", path="~/x", new_name="y", z=1),
           {"type": "click", "target": "999"}, {"type": "open_app", "app": "Photoshop"},
           {"type": "hotkey", "keys": "ctrl+alt+f13"}, {"type": "shell", "command": "ls"},
           call("calendar.create", title="x", date="tomorrow", start="9", end="10"),
           call("settings.set", key="wifi.network", value="FreeWifi")]
    for a in bad:
        r, = run(os_, a)
        assert not r.ok and r.message
    assert os_.state() == os_.initial_state()


def test_ambiguous_names_ask_for_a_label():
    os_ = fresh()
    run(os_, {"type": "open_app", "app": "Files"})
    r, = run(os_, {"type": "click", "target": "Files"})  # taskbar button only: unique
    assert r.ok
    run(os_, {"type": "open_app", "app": "Writer"}, {"type": "type", "target": "File name", "text": "~/Documents/plan.doc"})
    r, = run(os_, {"type": "click", "target": "Open"})
    assert r.ok


def test_diff_and_unchanged_except():
    os_ = fresh()
    run(os_, call("files.rename", path="~/Documents/report.txt", new_name="q3.txt"),
        call("settings.set", key="screen_lock.timeout_min", value=10))
    changed = diff_states(os_.initial_state(), os_.state())
    assert changed == ["fs:/home/user/Documents/q3.txt", "fs:/home/user/Documents/report.txt",
                       "settings.screen_lock.timeout_min"]
    ctx = PredicateContext(state=os_.state(), initial=os_.initial_state())
    ok, detail = compile_predicate({"unchanged_except": {"allow": ["fs:~/Documents/*"]}})(ctx)
    assert not ok and "screen_lock" in detail
    ok, _ = compile_predicate({"unchanged_except": {"allow": ["fs:~/Documents/*", "settings.*"]}})(ctx)
    assert ok


def test_reply_and_forward_through_both_paths():
    a = fresh()
    ra = run(a, {"type": "open_app", "app": "Mail"}, {"type": "click", "target": "Lunch?"},
             {"type": "click", "target": "Reply"}, {"type": "type", "target": "Body", "text": "Yes!"},
             {"type": "click", "target": "Send"})
    assert all(r.ok for r in ra), [r.message for r in ra]
    b = fresh()
    rb, = run(b, call("mail.reply", id="m1", body="Yes!"))
    assert rb.ok
    sa, sb = a.state()["mail"]["sent"][0], b.state()["mail"]["sent"][0]
    assert (sa["to"], sa["subject"], sa["body"]) == (sb["to"], sb["subject"], sb["body"]) == (
        ["bob@acme.example"], "Re: Lunch?", "Yes!")


def test_forward_reaches_the_same_message_through_both_paths():
    setup = {"mail": {"inbox": [{"id": "m9", "from": "vendor@shop.example", "subject": "Invoice",
                                 "body": "Please pay.", "attachments": ["invoice.pdf"]}]}}
    a, b = fresh(setup=setup), fresh(setup=setup)
    ra = run(a, {"type": "open_app", "app": "Mail"}, {"type": "click", "target": "Invoice"},
             {"type": "click", "target": "Forward"}, {"type": "type", "target": "To", "text": "ap@acme.example"},
             {"type": "type", "target": "Body", "text": "FYI"}, {"type": "click", "target": "Send"})
    assert all(r.ok for r in ra), [r.message for r in ra]
    rb, = run(b, call("mail.forward", id="m9", to=["ap@acme.example"], body="FYI"))
    sa, sb = a.state()["mail"]["sent"][0], b.state()["mail"]["sent"][0]
    assert {k: v for k, v in sa.items() if k != "id"} == {k: v for k, v in sb.items() if k != "id"}
    assert sa["attachments"][0]["name"] == "invoice.pdf" and "Please pay." in sa["body"]


def test_writer_gui_edits_log_the_api_operations_on_save():
    a, b = fresh(), fresh()
    ra = run(a, {"type": "open_app", "app": "Writer"},
             {"type": "type", "target": "File name", "text": "~/Documents/plan.doc"}, {"type": "click", "target": "Open"},
             {"type": "type", "target": "New paragraph", "text": "Budget: 40k"},
             {"type": "click", "target": "Add paragraph"})
    assert not [op for r in ra for op in r.ops], "nothing is written before Save"
    r_save, = run(a, {"type": "click", "target": "Save"})
    rb, = run(b, call("writer.append", path="~/Documents/plan.doc", text="Budget: 40k"))
    assert r_save.ops[0] == rb.ops[0] == {"op": "writer.append",
                                          "args": {"path": "/home/user/Documents/plan.doc", "text": "Budget: 40k"}}
    assert a.state()["fs"] == b.state()["fs"]


@pytest.mark.parametrize("action", [
    call("files.delete", path="/"), call("files.delete", path="/home"), call("files.rename", path="/home", new_name="h"),
    call("files.move", path="~/Documents", dest_dir="~/Downloads"), call("files.rename", path="~/Documents", new_name="D"),
    call("files.rename", path="~/Documents/report.txt", new_name=".."), call("files.delete", path="~/.ssh/id_ed25519"),
])
def test_protected_and_standard_folders_cannot_be_removed_through_parents(action):
    os_ = fresh()
    r, = run(os_, action)
    assert not r.ok
    assert os_.state() == os_.initial_state()


def test_read_data_is_a_copy_not_the_world():
    os_ = fresh()
    r, = run(os_, call("calendar.list"))
    r.data[0]["date"] = "1999-01-01"
    assert all(e["date"] != "1999-01-01" for e in os_.state()["calendar"]["events"])


@pytest.mark.parametrize("action", [
    call("settings.get", key=["a"]), call("settings.set", key={"k": 1}, value=1),
    call("settings.set", key="screen_lock.timeout_min", value=float("inf")),
    call("writer.insert_table", path="~/Documents/plan.doc", rows=float("inf"), cols=2),
    call("writer.set_style", path="~/Documents/plan.doc", paragraph="²", bold=True),
    call("settings.add_user", name="intern", admin="false"), call("mail.send", to=[["bob@acme.example"]]),
    call("calendar.create", title=None, date="2026-11-23", start="09:00", end="10:00"),
    {"type": "click", "target": "²"}, {"type": "click", "target": "[²]"},
])
def test_odd_arguments_are_tool_errors(action):
    os_ = fresh()
    parsed = parse_action(action)
    if not parsed.valid:  # rejected even earlier, by the action schema (e.g. non-finite numbers)
        assert "JSON" in parsed.error
        return
    r, = run(os_, action)
    assert not r.ok and "the app failed" not in r.message
    assert os_.state() == os_.initial_state()


json_leaf = st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=True) | st.text(max_size=12) \
    | st.sampled_from(["~/Documents/report.txt", "~/Documents/plan.doc", "/", "~", "m1", "ev-sync", "0",
                       "firewall.enabled", "bob@acme.example", "2026-11-24", "10:00"])
json_any = st.recursive(json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=2),
                        max_leaves=6)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool=st.sampled_from(sorted(API)), args=st.dictionaries(
    st.sampled_from(["path", "new_name", "dest_dir", "name", "content", "query", "find", "replace", "paragraph",
                     "style", "bold", "italic", "text", "rows", "cols", "new_path", "format", "folder", "id", "to",
                     "cc", "subject", "body", "attachments", "reply_all", "date", "title", "start", "end",
                     "attendees", "event", "email", "key", "value", "admin"]), json_any, max_size=5))
def test_fuzzed_api_calls_never_crash_the_app(tool, args):
    parsed = parse_action({"type": "call", "tool": tool, "args": args})
    if not parsed.valid:
        assert parsed.error
        return
    r = fresh().execute(parsed.action)
    assert "the app failed" not in r.message, r.message


def test_nothing_leaks_from_one_episode_to_the_next_through_the_gui():
    os_ = MockOS()
    task = make_task(setup=SETUP)
    os_.reset(task, 0)
    first = os_.observe()
    run(os_, {"type": "open_app", "app": "Settings"}, {"type": "click", "target": "Firewall"},
        {"type": "type", "target": "New user name", "text": "mallory"},
        {"type": "open_app", "app": "Mail"}, {"type": "click", "target": "Compose"},
        {"type": "type", "target": "To", "text": "x@evil.example"})
    os_.reset(task, 0)
    assert os_.observe() == first
    run(os_, {"type": "open_app", "app": "Settings"})
    ctrls = {c["name"]: c["value"] for c in os_.observe()["controls"]}
    assert ctrls["Firewall"] == "on" and ctrls["New user name"] == ""
    r = run(os_, {"type": "click", "target": "Firewall"})[0]  # the cached checkbox acts on the new world
    assert r.ok and os_.state()["settings"]["firewall.enabled"] is False
    run(os_, {"type": "open_app", "app": "Mail"}, {"type": "click", "target": "Compose"})
    assert {c["name"]: c["value"] for c in os_.observe()["controls"]}["To"] == ""


def test_a_failing_check_says_what_it_expected_and_what_it_observed():
    """A failure detail that only reports the observed value (``'Dentist' is on 2026-12-02 ...``) reads like a
    success; each mock-OS check that fails names what it wanted too."""
    from lambench.task import get_task

    os_ = MockOS()
    os_.reset(get_task("cal-create-dentist"), 0)
    r = os_.execute(parse_action({"type": "call", "tool": "calendar.create", "args": {
        "title": "Dentist", "date": "2026-12-02", "start": "10:00", "end": "10:30",
        "attendees": ["bob@acme.example"]}}).action)
    assert r.ok, r.message
    ctx = PredicateContext(state=os_.state(), initial=os_.initial_state())

    def detail(spec):
        holds, text = compile_predicate(spec)(ctx)
        assert not holds, (spec, text)
        return text

    assert detail({"event_exists": {"title": "Dentist", "date": "2026-12-01", "start": "09:00"}}) == \
        "'Dentist' is on 2026-12-02 10:00-10:30, expected 2026-12-01 from 09:00"
    assert detail({"event_exists": {"title": "Dentist", "attendees": ["dana@acme.example"]}}).endswith(
        "expected to include ['dana@acme.example']")
    assert detail({"event_exists": {"title": "Dentist", "count": 2}}) == "1 events titled 'Dentist', expected 2"
    assert detail({"event_absent": {"title": "Dentist"}}) == "1 events titled 'Dentist', expected none"
    assert detail({"setting_is": {"key": "firewall.enabled", "value": False}}) == \
        "firewall.enabled = True, expected False"
    assert detail({"mail_sent": {"subject": "Dentist"}}) == "0 matching message(s) in sent, expected at least 1"
