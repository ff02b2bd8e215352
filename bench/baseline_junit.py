#!/usr/bin/env python3
"""Baseline for the JUnit-like report: the careful streaming lxml script, one pass.

    python3 bench/baseline_junit.py REPORT.xml

The report is `testsuites/testsuite/testcase` (bench/generate.py --shape junit). Streams it with
`lxml.etree.iterparse(events=("end",), tag=("testcase", "testsuite"))`: a test case reads its
suite's `name` from its parent (whose start tag is parsed by then), looks for a `<failure>` or
`<skipped>` child before it is freed with `elem.clear()`, and counts in dictionaries; deleting
seen siblings keeps the tree from holding empty cases or suites, so memory stays flat. Prints
the same families as bench/junit.yaml, in the Prometheus text format, to standard output.
"""

import sys
from collections import defaultdict

try:
    from lxml import etree
except ImportError:
    sys.exit("baseline_junit.py: needs lxml: pip install lxml")


def escape_label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value):
    """Prometheus text for a number: integers without `.0`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_junit.py REPORT.xml")

    tests = defaultdict(int)
    times = defaultdict(float)
    failed = defaultdict(int)
    skipped = defaultdict(int)
    events = etree.iterparse(sys.argv[1], events=("end",), tag=("testcase", "testsuite"))
    for _event, elem in events:
        if elem.tag == "testcase":
            suite = elem.getparent().get("name")
            tests[suite] += 1
            # Summed in document order, as xml2prom does, so the floats agree exactly.
            times[suite] += float(elem.get("time"))
            if elem.find("failure") is not None:
                failed[suite] += 1
            if elem.find("skipped") is not None:
                skipped[suite] += 1
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]

    out = []

    def family(name, help_text, series):
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} gauge")
        for suite in sorted(series):
            out.append(f'{name}{{suite="{escape_label(suite)}"}} {number(series[suite])}')

    if failed:
        family("junit_failed_tests", "Test cases with a failure, per suite", failed)
    if skipped:
        family("junit_skipped_tests", "Test cases skipped, per suite", skipped)
    if tests:
        family("junit_tests", "Test cases per suite", tests)
        family("junit_time_seconds", "Sum of test case times per suite", times)
    sys.stdout.write("\n".join(out) + "\n" if out else "")


if __name__ == "__main__":
    main()
