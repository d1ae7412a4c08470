"""The canonical bytes of a received report, computed by orjson and equal to ``wire.canonical_bytes``.

The signature is over ``canonical_bytes`` (``json.dumps``, sorted keys, compact, UTF-8) of the
report object as received, and the collector encodes every report it receives to check it: ``json``
took ~0.4 ms of a 44 KB report, orjson ~0.07 ms. The two agree on every JSON value but floats,
which orjson writes in its own shortest form (``1e16`` where ``json`` writes ``1e+16``). So the body
is read with its non-integer numbers as ``Decimal`` (``loads_exact``), and orjson is handed, for
each, the text ``json`` writes for its float (``exact_number``). A hypothesis test holds
``canonical_bytes_exact(loads_exact(t)) == canonical_bytes(json.loads(t))`` for any JSON text ``t``.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import orjson

from duecare.wire import canonical_bytes


def loads_exact(text: str) -> Any:
    """JSON with numbers that have a fraction or an exponent (and NaN, Infinity) as ``Decimal``."""
    return json.loads(text, parse_float=Decimal, parse_constant=Decimal)


_NAN, _INF, _NEG_INF = (orjson.Fragment(t) for t in (b"NaN", b"Infinity", b"-Infinity"))


def exact_number(value: Any) -> orjson.Fragment:
    """orjson's ``default`` for ``loads_exact``'s numbers: the text ``json.dumps`` gives their float."""
    if not isinstance(value, Decimal):
        raise TypeError(f"not JSON: {type(value).__name__}")
    number = float(value)
    if math.isnan(number):
        return _NAN
    if math.isinf(number):
        return _INF if number > 0 else _NEG_INF
    return orjson.Fragment(float.__repr__(number).encode("ascii"))


def canonical_bytes_exact(obj: Any) -> bytes:
    """``canonical_bytes`` of a value read by ``loads_exact`` (and nothing else: its floats must be
    ``Decimal``). What orjson cannot write (an integer beyond 64 bits, nesting past 254 levels)
    is written by ``json``, as the agent did."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=exact_number)
    except orjson.JSONEncodeError:
        return canonical_bytes(_floats(obj))


def dumps_sorted(value: Any) -> bytes:
    """Sorted-key orjson of a value read by ``loads_exact`` (digests of its parts)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=exact_number)


def _floats(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return value
