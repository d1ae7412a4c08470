"""PDF through WeasyPrint, an optional extra (``pip install 'duecare[pdf]'``).

WeasyPrint needs Pango >= 1.44 from the system; when it or the package is missing the import
raises ImportError or OSError (WeasyPrint "First Steps", troubleshooting), which becomes one
clear message instead of a traceback. The HTML report never depends on it.
"""

from __future__ import annotations

from types import ModuleType

from duecare.report.errors import ReportError

INSTALL_HINT = (
    "PDF reports need the optional extra: pip install 'duecare[pdf]' (WeasyPrint; it needs Pango >= 1.44, "
    "e.g. apt-get install libpango-1.0-0 libpangoft2-1.0-0). Or write the report as .html."
)


def require_weasyprint() -> ModuleType:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ReportError(f"{INSTALL_HINT} ({type(exc).__name__}: {exc})") from exc
    module: ModuleType = weasyprint
    return module


def html_to_pdf(html: str) -> bytes:
    """Render without fetching anything: the HTML is self-contained, so a URL fetch is refused."""
    weasyprint = require_weasyprint()

    def no_fetch(url: str, *_args: object, **_kwargs: object) -> dict[str, object]:
        raise ReportError(f"the report must not load external resources (asked for {url[:80]!r})")

    pdf = weasyprint.HTML(string=html, url_fetcher=no_fetch).write_pdf()
    if not isinstance(pdf, bytes):
        raise ReportError("WeasyPrint returned no PDF")
    return pdf
