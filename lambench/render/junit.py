"""JUnit XML of the CI gate, for CI systems that show test results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

__all__ = ["error_junit", "gate_junit"]


def gate_junit(result: Any) -> str:
    """A ``lambench.gate.GateResult`` as JUnit XML: one test case per metric and one per task behind a
    success regression."""
    failures = sum(c.regressed for c in result.checks) + len(result.regressed_tasks)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="lambench gate",
                          tests=str(len(result.checks) + len(result.regressed_tasks)), failures=str(failures))
    for c in result.checks:
        case = ET.SubElement(suite, "testcase", classname="lambench.gate.metric", name=c.metric)
        if c.regressed:
            fail = ET.SubElement(case, "failure", message=c.reason)
            fail.text = f"baseline {c.baseline} candidate {c.candidate} p={c.p_value} ({c.test})"
    for t in result.regressed_tasks:
        case = ET.SubElement(suite, "testcase", classname="lambench.gate.task", name=t)
        ET.SubElement(case, "failure", message=f"task {t} succeeded less often than in the baseline")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def error_junit(message: str) -> str:
    """JUnit XML for a gate that could not compare (exit code 2): one test case in error, saying why."""
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name="lambench gate", tests="1", failures="0", errors="1")
    case = ET.SubElement(suite, "testcase", classname="lambench.gate", name="gate input")
    error = ET.SubElement(case, "error", message=message.splitlines()[0][:500] if message else "gate error",
                          type="GateError")
    error.text = message
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)
