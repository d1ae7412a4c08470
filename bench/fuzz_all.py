"""Fuzz every probe parser: ≥ 1,000,000 inputs by default, any exception but ProtocolError is a crash.

Three engines over the entry points bench/fuzz_targets.py discovers (seeded from the real captured
fixtures under tests/probes/**/fixtures):

* ``mutate``: a fast seeded mutator (truncation, bit flips, length fields set to 0/0x7f../0xff..,
  splices, oversized repeats, random bytes): the bulk of the count;
* ``hypothesis``: ``st.binary`` and fixture splices, shrinking any failure to a minimal input;
* ``atheris``: coverage-guided libFuzzer over the instrumented ``probes`` package, in a worker
  process beside the mutator (2 CPUs), so it finds branches blind mutation does not reach.

A call that takes longer than ``--hang-s`` is a crash too (a hostile peer must not hang the agent).
Crashing inputs are written to ``--crash-dir``. Prints per-parser counts and the total; exit 1 on
any crash. Usage: ``python -m bench.fuzz_all [--total 1000000] [--no-atheris]``.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib.util
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench.fuzz_targets import REPO, Entry, discover

INTERESTING = (0, 1, 0x7F, 0x80, 0xFF)


@functools.cache
def allowed() -> tuple[type[BaseException], ...]:
    """The parsers' documented error (imported late: atheris must instrument probes first)."""
    from duecare.probes.errors import ProtocolError

    return (ProtocolError,)


class Hang(Exception):
    """Raised by the interval timer inside a parser call that ran too long."""


def _on_timer(_sig: int, _frame: FrameType | None) -> None:
    raise Hang("parser call exceeded its CPU time limit")


def arm_hang_timer() -> None:
    """CPU-time timer (SIGPROF): a pure parser that hangs is spinning; SIGALRM stays free for
    pytest-timeout."""
    signal.signal(signal.SIGPROF, _on_timer)


@dataclass(frozen=True)
class Crash:
    entry: str
    error: str
    data: bytes
    trace: str


def mutate(rng: random.Random, seeds: Sequence[bytes]) -> bytes:
    """One input: a fixture changed the way a broken or lying peer would change it."""
    base = bytearray(rng.choice(seeds)) if seeds else bytearray()
    op = rng.randrange(10)
    if op == 0 or not base:
        return rng.randbytes(rng.randrange(0, 512))
    if op == 1:
        return bytes(base[: rng.randrange(len(base) + 1)])
    if op == 2:
        for _ in range(rng.randrange(1, 9)):
            base[rng.randrange(len(base))] ^= 1 << rng.randrange(8)
        return bytes(base)
    if op == 3:  # a length/count field made to lie
        at, width = rng.randrange(len(base)), rng.choice((1, 2, 4))
        base[at : at + width] = bytes([rng.choice(INTERESTING)]) * width
        return bytes(base)
    if op == 4:
        other = rng.choice(seeds)
        return bytes(base[: rng.randrange(len(base) + 1)] + other[rng.randrange(len(other) + 1) :])
    if op == 5:  # oversized: a chunk repeated up to ~64 KB
        i = rng.randrange(len(base))
        chunk = base[i : i + rng.randrange(1, 64)]
        return bytes(base[:i] + chunk * rng.randrange(2, max(3, 65536 // max(1, len(chunk)))) + base[i:])
    if op == 6:
        i = rng.randrange(len(base))
        del base[i : i + rng.randrange(1, 32)]
        return bytes(base)
    if op == 7:
        i = rng.randrange(len(base) + 1)
        return bytes(base[:i] + rng.randbytes(rng.randrange(1, 32)) + base[i:])
    if op == 8:
        for _ in range(rng.randrange(1, 5)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        return bytes(base)
    return bytes(base)


def call_once(entry: Entry, data: bytes, hang_s: float) -> Crash | None:
    signal.setitimer(signal.ITIMER_PROF, hang_s)
    try:
        entry.call(data)
    except allowed():
        pass
    except Exception as exc:
        trace = traceback.format_exc()
        return Crash(entry.name, f"{type(exc).__name__}: {exc}"[:300], data, trace[:1500] + "…" + trace[-1500:])
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    return None


Outcome = tuple[dict[str, int], list[Crash]]


def run_mutator(entries: Sequence[Entry], per_entry: int, seed: int, hang_s: float) -> Outcome:
    counts: dict[str, int] = {}
    crashes: list[Crash] = []
    for idx, entry in enumerate(entries):
        rng = random.Random(seed * 1_000_003 + idx)
        for _ in range(per_entry):
            crash = call_once(entry, mutate(rng, entry.seeds), hang_s)
            if crash is not None:
                crashes.append(crash)
                break  # one crash per parser is enough to report; the rest would repeat it
        counts[entry.name] = per_entry
    return counts, crashes


def run_hypothesis(entries: Sequence[Entry], examples: int, hang_s: float) -> Outcome:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    counts: collections.Counter[str] = collections.Counter()
    crashes: list[Crash] = []

    def checker(entry: Entry) -> Callable[[], None]:
        seeds = list(entry.seeds) or [b""]
        cut = st.integers(0, 1 << 16)
        spliced = st.tuples(st.sampled_from(seeds), cut, st.binary(max_size=64), cut)
        inputs = st.one_of(st.binary(max_size=4096), spliced.map(lambda t: t[0][: t[1]] + t[2] + t[0][t[3] :]))

        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(inputs)
        def check(data: bytes) -> None:
            counts[entry.name] += 1
            crash = call_once(entry, data, hang_s)
            if crash is not None:
                raise AssertionError(crash.error)

        return check

    for entry in entries:
        try:
            checker(entry)()
        except AssertionError as exc:  # hypothesis re-raises the shrunk failure
            crashes.append(Crash(entry.name, str(exc), b"", traceback.format_exc()[-3000:]))
    return dict(counts), crashes


def start_atheris(runs: int, workdir: Path) -> subprocess.Popen[bytes] | None:
    if importlib.util.find_spec("atheris") is None:
        return None
    argv = [sys.executable, "-m", "bench.fuzz_atheris", "--runs", str(runs), "--workdir", str(workdir)]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish_atheris(proc: subprocess.Popen[bytes], workdir: Path) -> tuple[dict[str, int], list[Crash], int]:
    out, _ = proc.communicate()
    text = out.decode(errors="replace")
    done = re.search(r"Done (\d+) runs", text)
    counts_file = workdir / "counts.txt"
    counts = {}
    if counts_file.exists():
        for line in counts_file.read_text().splitlines():
            name, _, n = line.rpartition(" ")
            counts[name] = int(n)
    crashes = []
    if proc.returncode != 0:
        crashes.append(Crash("atheris", f"libFuzzer exited {proc.returncode}", b"", text[-4000:]))
    return counts, crashes, int(done.group(1)) if done else sum(counts.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total", type=int, default=1_000_000, help="inputs for the mutator (all parsers)")
    ap.add_argument("--hypothesis-examples", type=int, default=300, help="per parser")
    ap.add_argument("--atheris-runs", type=int, default=200_000, help="coverage-guided runs (all parsers)")
    ap.add_argument("--no-atheris", action="store_true")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--hang-s", type=float, default=2.0)
    ap.add_argument("--crash-dir", type=Path, default=Path(tempfile.gettempdir()) / "duecare-fuzz-crashes")
    args = ap.parse_args(argv)
    arm_hang_timer()
    entries, skipped = discover()
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="duecare-atheris-"))
    worker = None if args.no_atheris else start_atheris(args.atheris_runs, workdir)
    per_entry = -(-args.total // len(entries))
    engines: dict[str, Outcome] = {}
    engines["mutate"] = run_mutator(entries, per_entry, args.seed, args.hang_s)
    engines["hypothesis"] = run_hypothesis(entries, args.hypothesis_examples, args.hang_s)
    atheris_total = 0
    if worker is not None:
        counts, crashes, atheris_total = finish_atheris(worker, workdir)
        engines["atheris"] = (counts, crashes)
    shutil.rmtree(workdir, ignore_errors=True)
    return report(entries, skipped, engines, atheris_total, time.monotonic() - t0, args.crash_dir)


def report(
    entries: Sequence[Entry],
    skipped: dict[str, str],
    engines: dict[str, Outcome],
    atheris_total: int,
    seconds: float,
    crash_dir: Path,
) -> int:
    names = list(engines)
    print(f"{'parser':<48}" + "".join(f"{n:>12}" for n in names))
    for e in entries:
        print(f"{e.name:<48}" + "".join(f"{engines[n][0].get(e.name, 0):>12,}" for n in names))
    totals = {n: sum(c.values()) for n, (c, _) in engines.items()}
    if "atheris" in totals:
        totals["atheris"] = max(totals["atheris"], atheris_total)
    total = sum(totals.values())
    print(f"{'TOTAL':<48}" + "".join(f"{totals[n]:>12,}" for n in names))
    print(f"\n{len(entries)} parser entry points, {len(skipped)} functions skipped (take structured values)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total inputs: {total:,} in {seconds:.0f} s; peak RSS {rss:.0f} MB")
    crashes = [c for _, (_, cs) in engines.items() for c in cs]
    for i, c in enumerate(crashes):
        if c.data:
            crash_dir.mkdir(parents=True, exist_ok=True)
            (crash_dir / f"crash-{i}-{c.entry}.bin").write_bytes(c.data)
        print(f"CRASH {c.entry}: {c.error}\n{c.trace}")
    print(f"crashes: {len(crashes)}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
