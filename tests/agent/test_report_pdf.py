"""PDF through the optional WeasyPrint extra, and the clear refusal when it is missing."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duecare.cli.main import app
from tests.agent.report_factories import rich_report

pytestmark = pytest.mark.slow  # real processes, a database server or a browser: not in `make test-fast`

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"


def test_pdf_is_rendered_by_weasyprint(tmp_path: Path) -> None:
    weasyprint = pytest.importorskip("weasyprint")
    from duecare.report.html import render, write_report

    out = tmp_path / "report.pdf"
    t0 = time.monotonic()
    write_report(rich_report(), out)
    elapsed = time.monotonic() - t0
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    pages = weasyprint.HTML(string=render(rich_report())).render().pages
    assert len(pages) >= 5, len(pages)  # each major section starts a page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "sample-weasyprint.pdf").write_bytes(data)
    assert elapsed < 60


@pytest.fixture
def no_weasyprint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import raises ImportError


def test_report_pdf_without_weasyprint_exits_2_with_the_hint(no_weasyprint: None, tmp_path: Path) -> None:
    src = tmp_path / "r.json"
    src.write_text(rich_report().model_dump_json())
    result = CliRunner().invoke(app, ["report", str(src), "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2, result.output
    assert "pip install 'duecare[pdf]'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.pdf").exists()


def test_scan_with_pdf_report_fails_before_scanning(no_weasyprint: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scan", "127.0.0.1", "--report", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2, result.output
    assert "duecare[pdf]" in result.output and "Traceback" not in result.output
    assert "discovery" not in result.output
