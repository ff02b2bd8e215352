#!/usr/bin/env python3
"""Baseline for the ready-made histograms: the careful streaming lxml script, one pass.

    python3 bench/baseline_buckets.py STORE.xml

The store is `latency/endpoint` with `bucket`, `sum` and `count` children (bench/generate.py
--shape buckets). Streams it with `lxml.etree.iterparse(events=("end",), tag="endpoint")`: each
endpoint's children are read when it ends, its buckets sorted by bound and checked to be
cumulative, and it is freed with `elem.clear()` (its seen siblings deleted), so memory stays
flat. Prints the same family as bench/buckets.yaml, in the Prometheus text format, to standard
output.
"""

import math
import sys

try:
    from lxml import etree
except ImportError:
    sys.exit("baseline_buckets.py: needs lxml: pip install lxml")


def escape_label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value):
    """Prometheus text for a number: integers without `.0`, infinities as Go writes them."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(value)


def bound(text):
    return math.inf if text == "+Inf" else float(text)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: baseline_buckets.py STORE.xml")

    series = []
    for _event, elem in etree.iterparse(sys.argv[1], events=("end",), tag="endpoint"):
        buckets = sorted((bound(b.get("le")), int(b.text)) for b in elem.iterfind("bucket"))
        counts = [n for _, n in buckets]
        if counts != sorted(counts) or len({le for le, _ in buckets}) != len(buckets):
            sys.exit(f"baseline_buckets.py: endpoint {elem.get('path')}: not a histogram")
        count = int(elem.findtext("count"))
        if not buckets or buckets[-1][0] != math.inf or buckets[-1][1] != count:
            sys.exit(f"baseline_buckets.py: endpoint {elem.get('path')}: +Inf is not the count")
        labels = f'method="{escape_label(elem.get("method"))}",path="{escape_label(elem.get("path"))}"'
        series.append((labels, buckets, float(elem.findtext("sum")), count))
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]

    name = "http_request_duration_seconds"
    out = [
        f"# HELP {name} Request latency per endpoint, from the service's own buckets",
        f"# TYPE {name} histogram",
    ]
    for labels, buckets, total, count in sorted(series):
        for le, n in buckets:
            out.append(f'{name}_bucket{{{labels},le="{number(le)}"}} {n}')
        out.append(f"{name}_sum{{{labels}}} {number(total)}")
        out.append(f"{name}_count{{{labels}}} {count}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
