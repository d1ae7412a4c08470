"""TOML data files → validated models, with errors a person can act on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from advisories.errors import CatalogError

M = TypeVar("M", bound=BaseModel)


def _line_of(text: str, loc: tuple[object, ...]) -> int | None:
    """Best-effort line of the deepest named key of a validation error's location."""
    for key in reversed([k for k in loc if isinstance(k, str)]):
        m = re.search(rf"^\s*(\[+\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\]|\.)", text, re.MULTILINE)
        if m:
            return text.count("\n", 0, m.start()) + 1
    return None


def load_toml_model(path: Path, model: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(path, f"cannot read: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise CatalogError(path, f"invalid TOML: {exc}", line=line) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or None
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise CatalogError(path, f"{err['msg']}{more}", line=_line_of(text, loc), field=field) from exc
