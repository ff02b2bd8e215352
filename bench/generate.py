#!/usr/bin/env python3
"""Write a deterministic synthetic XML store for the xml2prom benchmark.

    python3 bench/generate.py SIZE_MB OUT.xml [--shape flat|nested|junit] [--series N] [--seed S]

The default shape, `flat`, is one `<store>` element holding one `<row>` per line:

    <row id="17" kind="invoice" size="2048" status="ok">invoice 17 paid</row>

`kind` comes from a fixed set of eight kinds, or with `--series N` from N distinct values
(`k000000` ... `kNNNNNN`, each used at least once when the store has at least N rows), for the
"many series" case. `status` is one of ok, failed, deleted, pending; `size` is an integer.

`--shape nested` writes an inventory of sites holding racks holding rows, the shape where a
row's labels come from its ancestors (`../@id`, `ancestor::site/@name`):

    <inventory><site name="site-0001"><rack id="rack-000001">
      <row id="1" size="2048" status="ok">row 1 paid</row> ...

`--shape junit` writes a JUnit-like test report: `<testsuites>` holding `<testsuite name=...>`
elements of `<testcase name= classname= time=>`, some holding a `<failure>` or a `<skipped/>`.
`--series` applies to the flat shape only.

The same arguments always give the same bytes: the only randomness is a `random.Random` seeded
with `--seed` (default 42). Rows are written in batches as they are made, so memory stays small
whatever the size (500 MB works). SIZE_MB is in decimal megabytes (10**6 bytes): the file ends
with the first row that takes it to at least that size, plus the closing tag.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from typing import TextIO

BYTES_PER_MB = 1_000_000

#: The kinds of the ordinary stores: a small set, as in a real application store.
KINDS = ("order", "invoice", "customer", "payment", "shipment", "refund", "product", "review")

#: Statuses and how often each occurs: mostly ok, a few failures to count.
STATUSES = ("ok", "failed", "deleted", "pending")
STATUS_WEIGHTS = (80, 5, 5, 10)

#: Words for the row text; one entry holds `&amp;` so the parsers have an entity to expand.
WORDS = ("paid", "shipped", "open", "closed", "retry", "archived", "fast &amp; cheap", "manual")

#: Rows made per write call; big enough to amortise the call, small enough to keep memory flat.
BATCH_ROWS = 4096

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<!-- xml2prom benchmark store -->\n"
    '<store name="bench" version="1">\n'
)
FOOTER = "</store>\n"


def kind_cycle(rng: random.Random, series: int | None) -> Iterator[str]:
    """Yields the `kind` of each row in turn.

    Without `series`, a random choice among `KINDS`. With it, the N kinds in a fixed shuffled
    order, over and over, so every kind appears once the store has N rows and the input order is
    not already the sorted order of the output.
    """
    if series is None:
        while True:
            yield from rng.choices(KINDS, k=BATCH_ROWS)
    width = max(6, len(str(series - 1)))
    order = list(range(series))
    rng.shuffle(order)
    names = [f"k{i:0{width}d}" for i in order]
    while True:
        yield from names


def write_store(out: TextIO, size_mb: float, series: int | None, seed: int) -> tuple[int, int]:
    """Writes the store to `out`; returns (rows, bytes) written."""
    rng = random.Random(seed)
    kinds = kind_cycle(rng, series)
    target = int(size_mb * BYTES_PER_MB)
    written = len(HEADER.encode())
    out.write(HEADER)
    rows = 0
    while written < target:
        batch = []
        statuses = rng.choices(STATUSES, weights=STATUS_WEIGHTS, k=BATCH_ROWS)
        for status in statuses:
            rows += 1
            kind = next(kinds)
            size = rng.randrange(65536)
            word = WORDS[rng.randrange(len(WORDS))]
            line = (
                f'  <row id="{rows}" kind="{kind}" size="{size}" status="{status}">'
                f"{kind} {rows} {word}</row>\n"
            )
            batch.append(line)
            written += len(line)  # ASCII only, so characters are bytes
            if written >= target:
                break
        out.write("".join(batch))
    out.write(FOOTER)
    written += len(FOOTER)
    return rows, written


#: Rows per rack and racks per site in the nested shape: drawn from these ranges.
RACK_ROWS = (20, 200)
SITE_RACKS = (4, 24)

NESTED_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<!-- xml2prom benchmark store: nested -->\n"
    '<inventory name="bench" version="1">\n'
)
NESTED_FOOTER = "</inventory>\n"


def write_nested(out: TextIO, size_mb: float, seed: int) -> tuple[int, int]:
    """Writes the nested store (`inventory/site/rack/row`); returns (rows, bytes) written.

    Sites and racks are numbered in document order, so every rack id is unique; the last rack
    and site end with the row that takes the file to the size asked for.
    """
    rng = random.Random(seed)
    target = int(size_mb * BYTES_PER_MB)
    written = 0
    rows = racks = sites = 0
    batch = [NESTED_HEADER]
    written += len(NESTED_HEADER)
    while written < target:
        sites += 1
        line = f'  <site name="site-{sites:04d}" region="r{rng.randrange(4)}">\n'
        batch.append(line)
        written += len(line)
        for _ in range(rng.randrange(*SITE_RACKS)):
            racks += 1
            line = f'    <rack id="rack-{racks:06d}" slots="{rng.randrange(8, 64)}">\n'
            batch.append(line)
            written += len(line)
            count = rng.randrange(*RACK_ROWS)
            statuses = rng.choices(STATUSES, weights=STATUS_WEIGHTS, k=count)
            for status in statuses:
                rows += 1
                size = rng.randrange(65536)
                word = WORDS[rng.randrange(len(WORDS))]
                line = (
                    f'      <row id="{rows}" size="{size}" status="{status}">'
                    f"row {rows} {word}</row>\n"
                )
                batch.append(line)
                written += len(line)
                if written >= target:
                    break
            batch.append("    </rack>\n")
            written += len("    </rack>\n")
            if len(batch) >= BATCH_ROWS:
                out.write("".join(batch))
                batch = []
            if written >= target:
                break
        batch.append("  </site>\n")
        written += len("  </site>\n")
    batch.append(NESTED_FOOTER)
    written += len(NESTED_FOOTER)
    out.write("".join(batch))
    return rows, written


#: Test cases per suite, and how often a case fails or is skipped (per thousand).
SUITE_CASES = (10, 300)
FAILED_PER_MILLE = 30
SKIPPED_PER_MILLE = 50

FAILURE_MESSAGES = ("assert 1 == 2", "timeout after 30 s", "expected &lt;ok&gt; got &lt;failed&gt;")
SKIP_MESSAGES = ("not on this platform", "needs network", "flaky &amp; slow")

JUNIT_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="bench">\n'
JUNIT_FOOTER = "</testsuites>\n"


def write_junit(out: TextIO, size_mb: float, seed: int) -> tuple[int, int]:
    """Writes the JUnit-like report; returns (test cases, bytes) written.

    Each suite is made whole before it is written, so its opening tag can carry its totals as
    real reports do; a suite is at most a few tens of kilobytes. The report ends with the suite
    that takes the file to the size asked for.
    """
    rng = random.Random(seed)
    target = int(size_mb * BYTES_PER_MB)
    out.write(JUNIT_HEADER)
    written = len(JUNIT_HEADER)
    cases = suites = 0
    while written < target:
        suites += 1
        module = f"pkg{suites % 20:02d}.module{suites:05d}"
        lines = []
        failures = skipped = 0
        total_ms = 0
        count = rng.randrange(*SUITE_CASES)
        for number in range(1, count + 1):
            cases += 1
            ms = rng.randrange(1, 5000)
            total_ms += ms
            head = (
                f'    <testcase name="test_{number:04d}" classname="{module}.Test{number % 7}" '
                f'time="{ms / 1000:.3f}"'
            )
            draw = rng.randrange(1000)
            if draw < FAILED_PER_MILLE:
                failures += 1
                message = FAILURE_MESSAGES[rng.randrange(len(FAILURE_MESSAGES))]
                lines.append(
                    f'{head}>\n      <failure message="{message}" type="AssertionError">'
                    f"Traceback: {message} in test_{number:04d}</failure>\n    </testcase>\n"
                )
            elif draw < FAILED_PER_MILLE + SKIPPED_PER_MILLE:
                skipped += 1
                message = SKIP_MESSAGES[rng.randrange(len(SKIP_MESSAGES))]
                lines.append(f'{head}>\n      <skipped message="{message}"/>\n    </testcase>\n')
            else:
                lines.append(f"{head}/>\n")
        opening = (
            f'  <testsuite name="{module}" tests="{count}" failures="{failures}" '
            f'skipped="{skipped}" time="{total_ms / 1000:.3f}">\n'
        )
        text = opening + "".join(lines) + "  </testsuite>\n"
        out.write(text)
        written += len(text)
    out.write(JUNIT_FOOTER)
    written += len(JUNIT_FOOTER)
    return cases, written


BUCKETS_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<latency service="bench">\n'
BUCKETS_FOOTER = "</latency>\n"
# The upper bounds of the latency histograms a service keeps per endpoint, in seconds.
BUCKET_BOUNDS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10")
METHODS = ("GET", "POST", "PUT", "DELETE")


def write_buckets(out: TextIO, size_mb: float, seed: int) -> tuple[int, int]:
    """Writes a service's ready-made latency histograms, one per endpoint and method, each with
    its cumulative buckets (`<bucket le="0.1">`, the last `+Inf`), `<sum>` and `<count>`; returns
    (buckets, bytes) written."""
    rng = random.Random(seed)
    target = int(size_mb * BYTES_PER_MB)
    out.write(BUCKETS_HEADER)
    written = len(BUCKETS_HEADER)
    buckets = endpoints = 0
    while written < target:
        endpoints += 1
        method = METHODS[endpoints % len(METHODS)]
        lines = [f'  <endpoint path="/api/v1/resource{endpoints // len(METHODS):05d}" method="{method}">\n']
        total = 0
        for le in BUCKET_BOUNDS:
            total += rng.randrange(0, 400)
            lines.append(f'    <bucket le="{le}">{total}</bucket>\n')
        total += rng.randrange(0, 20)
        lines.append(f'    <bucket le="+Inf">{total}</bucket>\n')
        buckets += len(BUCKET_BOUNDS) + 1
        lines.append(f"    <sum>{rng.randrange(0, 10**6) / 1000:.3f}</sum>\n")
        lines.append(f"    <count>{total}</count>\n  </endpoint>\n")
        text = "".join(lines)
        out.write(text)
        written += len(text)
    out.write(BUCKETS_FOOTER)
    written += len(BUCKETS_FOOTER)
    return buckets, written


SHAPES = ("flat", "nested", "junit", "buckets")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "size_mb", type=float, metavar="SIZE_MB", help="approximate size in MB (10**6 bytes)"
    )
    parser.add_argument("out", metavar="OUT.xml", help="file to write (- for standard output)")
    parser.add_argument(
        "--shape", choices=SHAPES, default="flat", help="the store's shape (default flat)"
    )
    parser.add_argument("--series", type=int, metavar="N", help="N distinct kinds instead of 8")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.size_mb <= 0:
        parser.error("SIZE_MB must be positive")
    if args.series is not None and args.series < 1:
        parser.error("--series must be at least 1")
    if args.series is not None and args.shape != "flat":
        parser.error("--series applies to --shape flat only")

    def write(out: TextIO) -> tuple[int, int]:
        if args.shape == "nested":
            return write_nested(out, args.size_mb, args.seed)
        if args.shape == "junit":
            return write_junit(out, args.size_mb, args.seed)
        if args.shape == "buckets":
            return write_buckets(out, args.size_mb, args.seed)
        return write_store(out, args.size_mb, args.series, args.seed)

    if args.out == "-":
        rows, size = write(sys.stdout)
    else:
        # newline="\n": the same bytes on every platform. A large buffer: fewer system calls.
        with open(args.out, "w", encoding="ascii", newline="\n", buffering=1 << 20) as out:
            rows, size = write(out)
    if args.series is not None and rows < args.series:
        print(
            f"generate.py: warning: only {rows} rows, so only {rows} of the {args.series} kinds "
            "appear; ask for a bigger store",
            file=sys.stderr,
        )
    unit = {"junit": "test cases", "buckets": "buckets"}.get(args.shape, "rows")
    print(f"generate.py: {args.out}: {size} bytes, {rows} {unit}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
