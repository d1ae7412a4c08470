"""A malformed lifecycle file gives one clear error naming file, line and field; `validate` exits 1 with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from duecare.advisories.catalog import PACKAGED_DATA_DIR, collect
from duecare.advisories.errors import CatalogError
from duecare.advisories.lifecycle import load_lifecycle
from duecare.cli.advisories import app

WIN_ROW = "6.3.9600,,Windows 8.1,client,all,2023-01-10,,"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(PACKAGED_DATA_DIR, root)
    return root


def _edit(path: Path, old: str, new: str) -> int:
    """Replace once; the 1-based line of the edit."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    at = text.index(old)
    path.write_text(text.replace(old, new, 1))
    return text.count("\n", 0, at) + 1


def _error(root: Path) -> CatalogError:
    _catalog, errors = collect(root)
    mine = [e for e in errors if "lifecycle" in str(e.path)]
    assert len(mine) == 1, [str(e) for e in errors]
    return mine[0]


@pytest.mark.parametrize(
    ("new", "field", "words"),
    [
        ("6.3.9600,,Windows 8.1,client,all,2023-13-10,,", "end_of_support", "date"),
        ("6.3.9600,,Windows 8.1,desktop,all,2023-01-10,,", "kind", "client"),
        ("6.3.9600,,Windows 8.1,client,home,2023-01-10,,", "editions.0", "home-pro"),
        ("6.3.9600,,Windows 8.1,client,all,2023-01-10,2022-01-01,", "", "esu_until must be after end_of_support"),
        ("6.3.96x0,,Windows 8.1,client,all,2023-01-10,,", "version", "pattern"),
    ],
)
def test_bad_windows_row_names_line_and_field(data: Path, new: str, field: str, words: str) -> None:
    path = data / "lifecycle" / "windows.csv"
    line = _edit(path, WIN_ROW, new)
    err = _error(data)
    assert err.path == path and err.line == line
    assert (err.field or "") == field and words in str(err)


def test_missing_column(data: Path) -> None:
    path = data / "lifecycle" / "windows.csv"
    _edit(path, ",checked\n", "\n")
    err = _error(data)
    assert err.line == 1 and "missing ['checked']" in str(err)


def test_short_row(data: Path) -> None:
    path = data / "lifecycle" / "windows.csv"
    line = _edit(path, WIN_ROW, "6.3.9600,Windows 8.1")
    err = _error(data)
    assert err.line == line and "wrong number of columns" in str(err)


def test_duplicate_row(data: Path) -> None:
    path = data / "lifecycle" / "windows.csv"
    text = path.read_text()
    row = next(r for r in text.splitlines() if r.startswith(WIN_ROW))
    path.write_text(text + row + "\n")
    err = _error(data)
    assert err.line == len(text.splitlines()) + 1 and "duplicate row 6.3.9600 Windows 8.1" in str(err)


def test_iis_row_without_a_windows_release(data: Path) -> None:
    path = data / "lifecycle" / "iis.csv"
    line = _edit(path, "8.5,6.3,", "8.5,6.4,")
    err = _error(data)
    assert (err.line, err.field) == (line, "windows") and "no Windows 6.4 row" in str(err)


def test_wording_must_cover_both_exposures(data: Path) -> None:
    path = data / "lifecycle" / "exposures.toml"
    _edit(path, 'id = "product-end-of-life"', 'id = "os-end-of-life"')
    err = _error(data)
    assert "exactly os-end-of-life and product-end-of-life" in str(err)


def test_validate_cli_reports_it(data: Path) -> None:
    path = data / "lifecycle" / "windows.csv"
    _edit(path, WIN_ROW, "6.3.9600,,Windows 8.1,client,all,not-a-date,,")
    result = CliRunner().invoke(app, ["validate", str(data)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "windows.csv" in result.output and "end_of_support" in result.output


def test_changing_the_table_changes_the_catalog_version(data: Path) -> None:
    before = collect(data)[0].version
    _edit(data / "lifecycle" / "windows.csv", "2023-01-10,,", "2023-01-11,,")
    assert collect(data)[0].version != before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list('0123456789.,-\n abcdeklnrstv"')), max_size=300))
def test_any_windows_csv_loads_or_names_its_problem(tmp_path: Path, text: str) -> None:
    """Whatever the file holds, the loader returns tables or a CatalogError, never another exception."""
    root = tmp_path / "lc"
    root.mkdir(exist_ok=True)
    for name in ("iis.csv", "exposures.toml"):
        shutil.copy(PACKAGED_DATA_DIR / "lifecycle" / name, root / name)
    header = (PACKAGED_DATA_DIR / "lifecycle" / "windows.csv").read_text().splitlines()[0]
    (root / "windows.csv").write_text(header + "\n" + text)
    problem: CatalogError | None = None
    try:
        load_lifecycle(root)
    except CatalogError as exc:
        problem = exc
    assert problem is None or problem.path.name in {"windows.csv", "iis.csv"}


def test_row_without_evidence_is_refused(data: Path) -> None:
    path = data / "lifecycle" / "windows.csv"
    text = path.read_text()
    row = next(r for r in text.splitlines() if r.startswith(WIN_ROW))
    _source, evidence, checked = row.rsplit(",", 3)[1:]
    assert evidence.startswith("https://") and checked == "search"
    line = _edit(path, row, row.replace(f",{evidence},", ",,"))
    err = _error(data)
    assert err.line == line and err.field == "evidence" and "required" in str(err).lower()
