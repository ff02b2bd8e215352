#!/usr/bin/env python3
"""Baseline "typical": the store script people usually write, one XPath per group.

    python3 bench/baseline_typical.py STORE.xml

Loads the whole store with `lxml.etree.parse`, collects the distinct kinds, then runs a query
per kind and metric (`/store/row[@kind=$k]` and friends). Each query walks every row, so the
work grows with rows x kinds: this is the pattern xml2prom replaces, kept here as written so the
benchmark measures it honestly. Prints the same families as bench/seed.yaml, in the Prometheus
text format, to standard output.
"""

import sys

try:
    from lxml import etree
except ImportError:
    sys.exit("baseline_typical.py: needs lxml: pip install lxml")


def escape_label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value):
    """Prometheus text for a number: integers without `.0`."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_typical.py STORE.xml")
    tree = etree.parse(sys.argv[1])

    total = tree.xpath("count(/store/row)")
    kinds = sorted(set(tree.xpath("/store/row/@kind")))

    rows, sizes, failed = {}, {}, {}
    for kind in kinds:
        rows[kind] = tree.xpath("count(/store/row[@kind=$k])", k=kind)
        sizes[kind] = sum(
            int(row.get("size")) for row in tree.xpath("/store/row[@kind=$k]", k=kind)
        )
        n_failed = tree.xpath("count(/store/row[@kind=$k][@status='failed'])", k=kind)
        if n_failed:  # like xml2prom: a kind with no failed row has no series
            failed[kind] = n_failed

    out = []

    def family(name, help_text, series):
        if not series:  # like xml2prom: a family with no sample is left out
            return
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} gauge")
        for kind, value in series.items():
            out.append(f'{name}{{kind="{escape_label(kind)}"}} {number(value)}')

    family("store_failed_rows", "Rows whose status is failed, by kind", failed)
    family("store_rows", "Rows in store by kind", rows)
    family("store_size_bytes", "Sum of row sizes by kind", sizes)
    out.append("# HELP store_total_rows Total rows in store")
    out.append("# TYPE store_total_rows gauge")
    out.append(f"store_total_rows {number(total)}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
