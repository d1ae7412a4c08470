"""TOML data files → validated models, with errors a person can act on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from duecare.advisories.errors import CatalogError

M = TypeVar("M", bound=BaseModel)


def _key_at(text: str, key: str, start: int) -> re.Match[str] | None:
    pattern = rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\]|\.)"
    return re.compile(pattern, re.MULTILINE).search(text, start)


def _line_of(text: str, loc: tuple[object, ...]) -> int | None:
    """Best-effort line of a validation error's location.

    Follows ``[[table]]`` arrays by index (``requirements.3.exposures`` → the key under the fourth
    ``[[requirements]]``); falls back to the first occurrence of the deepest named key.
    """
    start = 0
    for key, nxt in zip(loc, (*loc[1:], None), strict=True):
        if isinstance(key, str) and isinstance(nxt, int):
            headers = list(re.finditer(rf"^\s*\[\[\s*{re.escape(key)}\s*\]\]", text, re.MULTILINE))
            if nxt < len(headers):
                start = headers[nxt].end()
    names = [k for k in loc if isinstance(k, str)]
    if names:
        m = _key_at(text, names[-1], start)
        if m:
            return text.count("\n", 0, m.start()) + 1
    if start:
        return text.count("\n", 0, start) + 1
    for key in reversed(names):
        m = _key_at(text, key, 0)
        if m:
            return text.count("\n", 0, m.start()) + 1
    return None


def line_of_key(path: Path, dotted: str) -> int | None:
    """Line of a field (``requirements.3.exposures``) in a data file, for cross-field errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return _line_of(text, tuple(int(p) if p.isdigit() else p for p in dotted.split(".")))


def load_toml_model(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(path, f"cannot read: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # ``lineno`` exists from Python 3.14 on; 3.11-3.13 only put it in the message.
        line = getattr(exc, "lineno", None)
        if line is None and (m := re.search(r"at line (\d+)", str(exc))):
            line = int(m.group(1))
        raise CatalogError(path, f"invalid TOML: {exc}", line=line) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or None
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise CatalogError(path, f"{err['msg']}{more}", line=_line_of(text, loc), field=field) from exc
