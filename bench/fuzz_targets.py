"""Every pure parser entry point of the probes, found by signature, with its seeds and a safe call.

An entry point is a public function defined in a parser module whose input parameter is annotated
``bytes``/``str`` (or ``| None``) and which is not an encoder (an encoder returns ``bytes`` and is
not named ``decode_*``). Other required parameters are filled from ``FILL`` by name, or by type
(enums, datetimes); a function with a parameter we cannot fill is listed as skipped, with why, so
a new parser with an odd signature shows up instead of silently escaping the fuzzer.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from ipaddress import IPv4Address
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "probes"
SEED_SUFFIXES = {".bin", ".der", ".http", ".json", ".xml", ".html", ".txt"}
#: Parser modules beyond probes/*/parse.py (the issue's list, plus pure decoders kept beside probes).
EXTRA_MODULES = (
    "duecare.probes.ntlm",
    "duecare.probes.x509",
    "duecare.probes.ports.parse",
    "duecare.probes.discovery.neighbors",
    "duecare.probes.rdp.mcs",
    "duecare.probes.rdp.credssp",
    "duecare.probes.printer.ipp",
    "duecare.probes.printer.pjl",
)
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
_LEN = object()  # sentinel: "the length of the fuzzed input"
FILL: dict[str, object] = {
    "now": NOW,
    "observed_on": NOW.date(),
    "status": 200,
    "http_status": 200,
    "host": "198.18.0.30",
    "path": "/owa/",
    "pos": 0,
    "end": _LEN,
    "proto": "tcp",
    "count": 100,
    "content_encoding": "gzip",
    "limit": 256,
    "target": IPv4Address("198.18.0.30"),
}


def parser_modules() -> list[str]:
    found = sorted(p.parent.name for p in (REPO / "probes").glob("*/parse.py"))
    return [f"duecare.probes.{name}.parse" for name in found] + [
        m for m in EXTRA_MODULES if m != "duecare.probes.ports.parse"
    ]


@dataclass(frozen=True)
class Entry:
    name: str
    fn: Callable[..., object]
    param: str
    text: bool
    fixed: Mapping[str, object]
    package: str
    seeds: tuple[bytes, ...] = field(default=(), compare=False)

    def call(self, data: bytes) -> object:
        """Call with ``data`` as the fuzzed argument (decoded as Latin-1 for text parsers)."""
        value: bytes | str = data.decode("latin-1") if self.text else data
        kwargs = {k: (len(data) if v is _LEN else v) for k, v in self.fixed.items()}
        return self.fn(**{self.param: value}, **kwargs)


def _input_kind(hint: object) -> bool | None:
    """True for text, False for bytes, None when the parameter is not a raw input."""
    options = set(typing.get_args(hint)) if isinstance(hint, types.UnionType) else {hint}
    options.discard(type(None))
    if options == {bytes}:
        return False
    if options == {str}:
        return True
    return None


def _fill(name: str, hint: object) -> object:
    if name in FILL:
        return FILL[name]
    if name in ("headers", "raw_headers"):
        origin = typing.get_origin(hint)
        return {} if origin is not None and issubclass(origin, Mapping) else []
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    if hint is datetime:
        return NOW
    if hint is date:
        return NOW.date()
    raise LookupError(f"no value for required parameter {name}: {hint}")


def _entry(module: str, fname: str, fn: Callable[..., object]) -> Entry | str:
    """An Entry, or the reason the function is not one."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:  # an unresolvable annotation is a reason to skip, not a crash
        return f"annotations do not resolve: {exc}"
    if hints.get("return") is bytes and not fname.startswith("decode"):
        return "encoder (returns bytes)"
    params = inspect.signature(fn).parameters
    # The raw input is the first bytes parameter, else the first str one (parse_response: body, not path).
    kinds = {p: _input_kind(hints.get(p)) for p in params}
    param = next((p for p, k in kinds.items() if k is False), None) or next((p for p, k in kinds.items() if k), None)
    if param is None:
        return "no bytes/str input parameter"
    fixed: dict[str, object] = {}
    for name, p in params.items():
        if name == param or p.default is not inspect.Parameter.empty:
            continue
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            return "variadic"
        try:
            fixed[name] = _fill(name, hints.get(name))
        except LookupError as exc:
            return str(exc)
    package = module.split(".")[1]
    return Entry(f"{module}.{fname}", fn, param, bool(_input_kind(hints[param])), fixed, package)


def _seed_files(package: str) -> list[Path]:
    dirs = {
        "ntlm": [FIXTURES / "fixtures", FIXTURES / "exchange" / "fixtures", FIXTURES / "rdp" / "fixtures"],
        "x509": [FIXTURES / "tls" / "fixtures", FIXTURES / "rdp" / "fixtures"],
    }.get(package, [FIXTURES / package / "fixtures"])
    return sorted(p for d in dirs if d.is_dir() for p in d.rglob("*") if p.suffix in SEED_SUFFIXES)


def discover() -> tuple[list[Entry], dict[str, str]]:
    """(entry points with their seeds, {function: why skipped})."""
    every_seed = tuple(p.read_bytes() for p in sorted(FIXTURES.rglob("fixtures/**/*")) if p.suffix in SEED_SUFFIXES)
    entries: list[Entry] = []
    skipped: dict[str, str] = {}
    for module in parser_modules():
        mod = importlib.import_module(module)
        for fname, fn in inspect.getmembers(mod, inspect.isfunction):
            if fname.startswith("_") or fn.__module__ != module:
                continue
            got = _entry(module, fname, fn)
            if isinstance(got, str):
                skipped[f"{module}.{fname}"] = got
                continue
            own = tuple(p.read_bytes() for p in _seed_files(got.package))
            entries.append(Entry(got.name, got.fn, got.param, got.text, got.fixed, got.package, own or every_seed))
    return entries, skipped
