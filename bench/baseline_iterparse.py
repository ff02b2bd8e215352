#!/usr/bin/env python3
"""Baseline "iterparse": the careful streaming lxml script, one pass over the store.

    python3 bench/baseline_iterparse.py STORE.xml

Streams the store with `lxml.etree.iterparse(events=("end",), tag="row")`, adds each row to
per-kind dictionaries, then frees it: `elem.clear()` empties the row and deleting the already
seen siblings keeps the root from holding a list of empty rows, so memory stays flat however
large the store is. This is about as fast as Python gets for the job. Prints the same families as
bench/seed.yaml, in the Prometheus text format, to standard output.
"""

import sys
from collections import defaultdict

try:
    from lxml import etree
except ImportError:
    sys.exit("baseline_iterparse.py: needs lxml: pip install lxml")


def escape_label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value):
    """Prometheus text for a number: integers without `.0`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_iterparse.py STORE.xml")

    total = 0
    rows = defaultdict(int)
    sizes = defaultdict(int)
    failed = defaultdict(int)
    for _event, elem in etree.iterparse(sys.argv[1], events=("end",), tag="row"):
        # Every <row> counts: in the benchmark stores they are exactly /store/row.
        kind = elem.get("kind")
        total += 1
        rows[kind] += 1
        sizes[kind] += int(elem.get("size"))
        if elem.get("status") == "failed":
            failed[kind] += 1
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]

    out = []

    def family(name, help_text, series):
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} gauge")
        for kind in sorted(series):
            out.append(f'{name}{{kind="{escape_label(kind)}"}} {number(series[kind])}')

    if failed:
        family("store_failed_rows", "Rows whose status is failed, by kind", failed)
    if rows:
        family("store_rows", "Rows in store by kind", rows)
        family("store_size_bytes", "Sum of row sizes by kind", sizes)
    out.append("# HELP store_total_rows Total rows in store")
    out.append("# TYPE store_total_rows gauge")
    out.append(f"store_total_rows {total}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
