#!/usr/bin/env python3
"""Baseline for the nested shape: the careful streaming lxml script, one pass over the store.

    python3 bench/baseline_nested.py STORE.xml

The store is `inventory/site/rack/row` (bench/generate.py --shape nested). Streams it with
`lxml.etree.iterparse(events=("end",), tag=("row", "rack", "site"))`: a row reads its rack's
`id` and its site's `name` from its parent and grandparent (their start tags are parsed by
then), adds itself to dictionaries and is freed with `elem.clear()`; deleting seen siblings at
every level keeps the tree from holding empty rows, racks or sites, so memory stays flat. Prints
the same families as bench/nested.yaml, in the Prometheus text format, to standard output.
"""

import sys
from collections import defaultdict

try:
    from lxml import etree
except ImportError:
    sys.exit("baseline_nested.py: needs lxml: pip install lxml")


def escape_label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value):
    """Prometheus text for a number: integers without `.0`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_nested.py STORE.xml")

    rows = defaultdict(int)  # (site, rack) -> rows
    sizes = defaultdict(int)  # site -> sum of @size
    failed = defaultdict(int)  # rack -> failed rows
    events = etree.iterparse(sys.argv[1], events=("end",), tag=("row", "rack", "site"))
    for _event, elem in events:
        if elem.tag == "row":
            rack = elem.getparent()
            rack_id = rack.get("id")
            site = rack.getparent().get("name")
            rows[(site, rack_id)] += 1
            sizes[site] += int(elem.get("size"))
            if elem.get("status") == "failed":
                failed[rack_id] += 1
        # A rack or site ends after its children were freed; free it the same way.
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]

    out = []

    def family(name, help_text, series, label_names):
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} gauge")
        for key in sorted(series):
            values = key if isinstance(key, tuple) else (key,)
            labels = ",".join(
                f'{label}="{escape_label(value)}"' for label, value in zip(label_names, values)
            )
            out.append(f"{name}{{{labels}}} {number(series[key])}")

    if failed:
        family("inventory_failed_rows", "Rows whose status is failed, per rack", failed, ("rack",))
    if rows:
        family("inventory_rows", "Rows per site and rack", rows, ("site", "rack"))
        family("inventory_size_bytes", "Sum of row sizes per site", sizes, ("site",))
    sys.stdout.write("\n".join(out) + "\n" if out else "")


if __name__ == "__main__":
    main()
