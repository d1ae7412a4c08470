"""The console in a real browser (Debian's headless Chromium over the DevTools pipe), signed in with a
client's key and with the MSP's all-clients key: every page loads without a console error or a CSP
violation, fits 1366 px and 390 px, every link is reached with Tab, and the accessibility tree names
every form field and every chart. Screenshots are kept under artifacts/console/."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from duecare.collector.db.models import FindingState
from duecare.collector.ids import Ids, Kind
from tests.agent import chromium
from tests.console.serve import Served, served_console
from tests.env import require

pytestmark = pytest.mark.slow  # a browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
WIDTHS = (1366, 390)
FIELD_ROLES = {"textbox", "combobox", "listbox", "checkbox", "radio", "searchbox", "spinbutton"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_console(tmp_path_factory.mktemp("console")) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[chromium.Browser]:
    require(chromium.available(), "chromium is not installed (scripts/packages-extra.txt)")
    with chromium.Browser() as b:
        b.call("Accessibility.enable", session=True)
        yield b


def sign_in(b: chromium.Browser, served: Served, key: str) -> None:
    b.goto(f"{served.url}/console/sign-in")
    assert b.problems() == []
    b.submit(f"document.getElementById('key').value = {json.dumps(key)}; document.querySelector('form').submit()")
    assert b.evaluate("location.pathname") == "/console/", b.evaluate("document.body.innerText")[:500]


def pages(served: Served, client_key: bool) -> dict[str, str]:
    msp = served.msp
    with served.db.read() as s:
        row = s.scalars(select(FindingState).where(FindingState.title.like("Telnet <script>%"))).one()
        hostile = Ids.of(s, None).public(Kind.FINDING, row.client_id, row.id)
    out = {
        "clients": "/console/",
        "clients-needs-action": "/console/?needs=1&sort=overdue&order=desc",
        "client": f"/console/clients/{msp.clients['Acme Dental']}",
        "site": f"/console/sites/{msp.sites['Main office'].site_id}",
        "finding": f"/console/findings/{hostile}",
        "exports": "/console/exports",
    }
    if not client_key:
        out["client-beta"] = f"/console/clients/{msp.clients['Beta Law']}"
    return out


def check_page(b: chromium.Browser, name: str) -> None:
    assert b.problems() == [], name
    assert b.evaluate("document.scripts.length") == 0
    # Titles and headings read aloud: one h1, named in the title, and no level skipped.
    h1 = b.evaluate("[...document.querySelectorAll('h1')].map(h => h.innerText.trim())")
    assert len(h1) == 1 and h1[0], name
    title = b.evaluate("document.title")
    assert title.endswith("· duecare console") and len(title) > len("· duecare console") + 2, title
    levels = b.evaluate("[...document.querySelectorAll('h1,h2,h3,h4')].map(h => +h.tagName[1])")
    assert all(b2 - a <= 1 for a, b2 in itertools.pairwise(levels)), (name, levels)
    # The accessibility tree: every form field has a name, every chart a text equivalent.
    nodes = [n for n in b.ax_tree() if not n.get("ignored")]
    fields = [n for n in nodes if n.get("role", {}).get("value") in FIELD_ROLES]
    assert all(n.get("name", {}).get("value", "").strip() for n in fields), (name, fields)
    svgs = b.evaluate("document.querySelectorAll('svg').length")
    charts = [n for n in nodes if n.get("role", {}).get("value") in ("image", "img", "graphics-document")]
    assert len(charts) >= svgs, (name, svgs, len(charts))
    assert all(len(n.get("name", {}).get("value", "")) > 20 for n in charts), name
    # Keyboard: Tab from the top reaches every link.
    b.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    stops = b.evaluate("document.querySelectorAll('a[href], button, input, select, [tabindex=\"0\"]').length")
    for _ in range(stops + 3):
        b.press_tab()
        b.evaluate("document.activeElement && document.activeElement.setAttribute('data-reached', '1')")
    missed = b.evaluate("[...document.querySelectorAll('a[href]:not([data-reached])')].map(a => a.href)")
    assert missed == [], (name, missed)


def visit_all(b: chromium.Browser, served: Served, who: str, client_key: bool) -> None:
    for name, path in pages(served, client_key).items():
        for width in WIDTHS:
            b.viewport(width)
            b.goto(served.url + path)
            assert b.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
            b.screenshot(ARTIFACTS / f"{who}-{name}-{width}.png", width=width)
        check_page(b, f"{who} {name}")


def test_client_key_visits_every_page(browser: chromium.Browser, served: Served) -> None:
    sign_in(browser, served, served.msp.readers["Acme Dental"])
    visit_all(browser, served, "client", client_key=True)
    text = browser.evaluate("document.body.innerText")
    assert "Beta Law" not in text
    browser.goto(f"{served.url}/console/clients/{served.msp.clients['Beta Law']}")
    assert browser.evaluate("document.querySelector('h1').innerText") == "Not found"


def test_msp_key_visits_every_page(browser: chromium.Browser, served: Served) -> None:
    sign_in(browser, served, served.msp.readers["*"])
    visit_all(browser, served, "msp", client_key=False)
    browser.viewport(1366)
    browser.goto(f"{served.url}/console/")
    assert browser.evaluate("[...document.querySelectorAll('tbody th')].map(t => t.innerText)") == [
        "Acme Dental",
        "Beta Law",
    ]
    assert browser.evaluate("document.querySelectorAll('.silent').length") == 0


def test_hostile_text_is_shown_as_text_and_never_runs(browser: chromium.Browser, served: Served) -> None:
    sign_in(browser, served, served.msp.readers["*"])
    browser.goto(served.url + pages(served, False)["finding"])
    assert "<script>alert(1)</script>" in browser.evaluate("document.body.innerText")
    assert browser.evaluate("document.querySelectorAll('img, script').length") == 0
    assert browser.problems() == []


def test_sign_in_page_and_signing_out(browser: chromium.Browser, served: Served) -> None:
    sign_in(browser, served, served.msp.readers["*"])
    browser.submit("document.querySelector('form.signout').submit()")
    assert "You have signed out" in browser.evaluate("document.body.innerText")
    browser.goto(f"{served.url}/console/")
    assert browser.evaluate("location.pathname") == "/console/sign-in"
    for width in WIDTHS:
        browser.viewport(width)
        browser.goto(f"{served.url}/console/sign-in")
        assert browser.evaluate("document.documentElement.scrollWidth") <= width
        browser.screenshot(ARTIFACTS / f"sign-in-{width}.png", width=width)
    check_page(browser, "sign-in")
