"""Structured logs on stderr: one JSON object per line, which journald keeps as the message."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_SECRET_KEYS = {"credential", "token", "authorization", "password", "key"}
_STD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _STD and not k.startswith("_"):
                out[k] = "[redacted]" if k.lower() in _SECRET_KEYS else v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    # apscheduler's own warnings (a missed run, a skipped overlapping cycle) would otherwise reach
    # stderr through logging's last-resort handler as plain text, breaking one-JSON-object-a-line.
    for name, lvl in (("duecare", level), ("apscheduler", max(level, logging.WARNING))):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(lvl)
        logger.propagate = False
