"""The report in a real browser (Debian's headless Chromium over the DevTools pipe): hostile text
never runs, nothing is fetched, nothing logs an error; screenshots kept under artifacts/report/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from duecare.report.html import render
from tests.agent import chromium
from tests.agent.report_factories import SCRIPT, hostile_report, rich_report
from tests.env import require

pytestmark = pytest.mark.slow  # real processes, a database server or a browser: not in `make test-fast`

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"


@pytest.fixture(scope="module")
def browser() -> Iterator[chromium.Browser]:
    require(chromium.available(), "chromium is not installed (scripts/packages-extra.txt)")
    with chromium.Browser() as b:
        yield b


def test_hostile_report_runs_no_script(browser: chromium.Browser, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render(hostile_report()), encoding="utf-8")
    browser.open(page)
    assert browser.evaluate("document.body.getAttribute('data-pwned')") is None
    assert "PWNED" not in browser.evaluate("document.title")
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.images.length") == 0
    assert (
        browser.evaluate(
            "[...document.querySelectorAll('a')].filter(a => !/^(https:|#)/.test(a.getAttribute('href'))).length"
        )
        == 0
    )
    text = browser.evaluate("document.body.innerText")
    assert SCRIPT in text  # shown, as text
    assert browser.problems() == []  # no console output, no CSP violation, no uncaught error
    browser.screenshot(ARTIFACTS / "hostile-desktop.png", width=1366)


def test_rich_report_renders_cleanly_on_screen_and_in_print(browser: chromium.Browser, tmp_path: Path) -> None:
    page = tmp_path / "rich.html"
    page.write_text(render(rich_report()), encoding="utf-8")
    browser.open(page)
    assert browser.problems() == []
    visible = browser.evaluate(
        "['#headline', '#actions', '#kev', '#obligations', '#detail', '#undetermined', '#appendix']"
        ".map(s => document.querySelector(s).getBoundingClientRect().height > 0)"
    )
    assert all(visible)
    w, h = browser.screenshot(ARTIFACTS / "sample-desktop.png", width=1366)
    assert h > 2000
    w, h = browser.screenshot(ARTIFACTS / "sample-print.png", width=794, media="print")
    assert w == 794 and h > 2000
    # nothing wider than the paper: print layout must not need a horizontal scrollbar
    assert browser.evaluate("document.documentElement.scrollWidth") <= 794
