"""Worker of bench/fuzz_all.py: coverage-guided fuzzing (atheris/libFuzzer) of every parser at once.

The first byte of each input picks the parser, the rest is its input, so libFuzzer's coverage
feedback spans all of ``probes``. The corpus starts from the real fixtures (each prefixed with the
index of a parser of its package). An exception other than ProtocolError propagates: libFuzzer
reports it and exits non-zero. Per-parser counts go to ``<workdir>/counts.txt`` as it runs
(libFuzzer ends the process with exit(), so nothing runs after ``Fuzz()``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import sys
from pathlib import Path

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports(include=["probes"]):
    from bench.fuzz_targets import discover
    from duecare.probes.errors import ProtocolError

FLUSH_EVERY = 5000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    args = ap.parse_args()
    entries, _ = discover()
    corpus = args.workdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, entry in enumerate(entries):
        for j, seed in enumerate(entry.seeds):
            (corpus / f"{i}-{j}").write_bytes(bytes([i]) + seed[:8192])
    counts: collections.Counter[str] = collections.Counter()
    counts_file = args.workdir / "counts.txt"
    seen = 0

    def flush() -> None:
        counts_file.write_text("".join(f"{e.name} {counts[e.name]}\n" for e in entries))

    def one(data: bytes) -> None:
        nonlocal seen
        if not data:
            return
        entry = entries[data[0] % len(entries)]
        counts[entry.name] += 1
        seen += 1
        if seen % FLUSH_EVERY == 0 or seen >= args.runs:
            flush()
        with contextlib.suppress(ProtocolError):
            entry.call(data[1:])

    argv = [
        sys.argv[0],
        f"-runs={args.runs}",
        "-max_len=8193",
        "-timeout=5",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup(argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
