#!/usr/bin/env python3
"""Baseline "onepass": the careful DOM script, one parse and one pass over the rows.

    python3 bench/baseline_onepass.py STORE.xml

Loads the whole store with `lxml.etree.parse` (libxml2's C parser builds the tree), then walks
the children of the root once, adding each `<row>` to per-kind dictionaries. This is what a
careful author writes when the script needs the document in memory: no query per group, no
second pass. It is the yardstick for xml2prom's DOM engine, which also builds the whole
document first. Prints the same families as bench/seed.yaml, in the Prometheus text format, to
standard output.
"""

import sys
from collections import defaultdict

try:
    from lxml import etree
except ImportError:
    sys.exit("baseline_onepass.py: needs lxml: pip install lxml")


def escape_label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value):
    """Prometheus text for a number: integers without `.0`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_onepass.py STORE.xml")
    root = etree.parse(sys.argv[1]).getroot()

    total = 0
    rows = defaultdict(int)
    sizes = defaultdict(int)
    failed = defaultdict(int)
    # /store/row: the root must be <store>; its <row> children, in one pass.
    for row in root.iterchildren("row") if root.tag == "store" else ():
        kind = row.get("kind")
        total += 1
        rows[kind] += 1
        sizes[kind] += int(row.get("size"))
        if row.get("status") == "failed":
            failed[kind] += 1

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
