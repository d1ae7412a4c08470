"""The committed JSON Schema of the report contract; ``python -m wire.schema`` regenerates it."""

from __future__ import annotations

import json
from pathlib import Path

from duecare.wire.envelope import SignedReport
from duecare.wire.models import Report

SCHEMA_DIR = Path(__file__).resolve().parent / "schema"


def schemas() -> dict[str, str]:
    return {
        "report.schema.json": json.dumps(Report.model_json_schema(), indent=2, sort_keys=True) + "\n",
        "signed-report.schema.json": json.dumps(SignedReport.model_json_schema(), indent=2, sort_keys=True) + "\n",
    }


def main() -> None:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in schemas().items():
        (SCHEMA_DIR / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
