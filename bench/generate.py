#!/usr/bin/env python3
"""Write a deterministic synthetic XML store for the xml2prom benchmark.

    python3 bench/generate.py SIZE_MB OUT.xml [--series N] [--seed S]

The store is one `<store>` element holding one `<row>` per line:

    <row id="17" kind="invoice" size="2048" status="ok">invoice 17 paid</row>

`kind` comes from a fixed set of eight kinds, or with `--series N` from N distinct values
(`k000000` ... `kNNNNNN`, each used at least once when the store has at least N rows), for the
"many series" case. `status` is one of ok, failed, deleted, pending; `size` is an integer.

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "size_mb", type=float, metavar="SIZE_MB", help="approximate size in MB (10**6 bytes)"
    )
    parser.add_argument("out", metavar="OUT.xml", help="file to write (- for standard output)")
    parser.add_argument("--series", type=int, metavar="N", help="N distinct kinds instead of 8")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    args = parser.parse_args(argv)
    if args.size_mb <= 0:
        parser.error("SIZE_MB must be positive")
    if args.series is not None and args.series < 1:
        parser.error("--series must be at least 1")

    if args.out == "-":
        rows, size = write_store(sys.stdout, args.size_mb, args.series, args.seed)
    else:
        # newline="\n": the same bytes on every platform. A large buffer: fewer system calls.
        with open(args.out, "w", encoding="ascii", newline="\n", buffering=1 << 20) as out:
            rows, size = write_store(out, args.size_mb, args.series, args.seed)
    if args.series is not None and rows < args.series:
        print(
            f"generate.py: warning: only {rows} rows, so only {rows} of the {args.series} kinds "
            "appear; ask for a bigger store",
            file=sys.stderr,
        )
    print(f"generate.py: {args.out}: {size} bytes, {rows} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
