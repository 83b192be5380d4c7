"""JUnit XML for `check --junit FILE`: one testcase per checked value, so CI systems
(GitHub Actions reporters, GitLab's test report) list each wrong number by name with
its cause. A spec that could not be checked is one testcase with an <error>; a spec
without a key is one <skipped> testcase.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .compare import NO_CAUSE, Report, Result, SpecReport, shown_computed


def _classname(spec: str) -> str:
    """configs/bce_2_2_1.yaml → configs.bce_2_2_1: the dotted form CI tools group by."""
    path = Path(spec).with_suffix("")
    parts = [p for p in path.parts if p not in (path.anchor, "..", ".")]
    return ".".join(parts) or spec


def _message(r: Result) -> str:
    if r.difference is None:
        return f"expected {r.text!s}, found {r.computed!s}"
    return (
        f"expected {r.text}, computed {shown_computed(r)} (difference {r.difference:+.3g}, "
        f"tolerance {r.tolerance:.3g}): {r.cause or NO_CAUSE}"
    )


def _suite(spec: SpecReport) -> ET.Element:
    suite = ET.Element("testsuite", name=spec.spec)
    classname = _classname(spec.spec)
    tests = failures = errors = skipped = 0
    if spec.error is not None:
        case = ET.SubElement(suite, "testcase", classname=classname, name="answer key", file=spec.key or spec.spec)
        ET.SubElement(case, "error", message=spec.error.splitlines()[0], type="bad input").text = spec.error
        tests, errors = 1, 1
    elif spec.key is None:
        case = ET.SubElement(suite, "testcase", classname=classname, name="answer key", file=spec.spec)
        ET.SubElement(case, "skipped", message="no answer key")
        tests, skipped = 1, 1
    else:
        for r in spec.results:
            attrs = {"classname": classname, "name": r.name, "file": spec.key, "time": "0"}
            if r.line is not None:
                attrs["line"] = str(r.line)
            case = ET.SubElement(suite, "testcase", **attrs)
            tests += 1
            if not r.ok:
                failures += 1
                message = _message(r)
                ET.SubElement(case, "failure", message=message, type="mismatch").text = message
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    return suite


def junit_xml(report: Report) -> str:
    root = ET.Element("testsuites", name="backprop check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for spec in report.specs:
        suite = _suite(spec)
        for key in totals:
            totals[key] += int(suite.get(key))
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
