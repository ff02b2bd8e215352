#!/usr/bin/env python3
"""Baseline for one series per row: the careful streaming lxml script, one pass.

    python3 bench/baseline_per_row.py STORE.xml

Streams a flat store (bench/generate.py) with `lxml.etree.iterparse(events=("end",),
tag="row")` and writes one sample per row, labelled by its `id` and `kind`, valued by its
`size`, in batches as it goes; `elem.clear()` and deleting seen siblings keep memory flat
except for the output itself. Prints the same family as bench/per_row.yaml, in the Prometheus
text format, to standard output (in document order: the comparison does not depend on order).
"""

import sys

try:
    from lxml import etree
except ImportError:
    sys.exit("baseline_per_row.py: needs lxml: pip install lxml")


def escape_label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_per_row.py STORE.xml")

    write = sys.stdout.write
    write("# HELP store_row_size_bytes Size of each row\n# TYPE store_row_size_bytes gauge\n")
    batch = []
    for _event, elem in etree.iterparse(sys.argv[1], events=("end",), tag="row"):
        batch.append(
            f'store_row_size_bytes{{id="{escape_label(elem.get("id"))}",'
            f'kind="{escape_label(elem.get("kind"))}"}} {int(elem.get("size"))}\n'
        )
        if len(batch) >= 4096:
            write("".join(batch))
            batch.clear()
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]
    write("".join(batch))


if __name__ == "__main__":
    main()
