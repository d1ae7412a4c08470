"""Malformed data files: a clear error naming file, line and field; every other file still checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from duecare.advisories.catalog import PACKAGED_DATA_DIR, collect, load_catalog
from duecare.advisories.errors import CatalogError
from duecare.advisories.manage import validate
from duecare.cli.advisories import app


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A private copy of the packaged data to break."""
    root = tmp_path / "data"
    shutil.copytree(PACKAGED_DATA_DIR, root)
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _only(errors: list[CatalogError], path: Path) -> CatalogError:
    mine = [e for e in errors if e.path == path]
    assert len(mine) == 1, [str(e) for e in errors]
    return mine[0]


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _baseline() -> set[str]:
    """Problems in the packaged tree (other teams' rule files in progress), to tell ours apart."""
    return {str(e).replace(str(PACKAGED_DATA_DIR), "") for e in collect()[1]}


def _new(errors: list[CatalogError], root: Path) -> list[CatalogError]:
    base = _baseline()
    return [e for e in errors if str(e).replace(str(root), "") not in base]


def test_bad_severity_names_file_line_and_field(data: Path) -> None:
    path = data / "advisories" / "cisa" / "aa22-137a.toml"
    _edit(path, 'severity = "high"', 'severity = "severe"')
    errors = _new(validate(data), data)
    err = _only(errors, path)
    assert len(errors) == 1, "references to a file that failed to load are not reported again"
    assert err.field == "severity" and err.line == _line_of(path, "severity =")
    assert f"{path}:{err.line} [severity]" in str(err)


def test_unknown_exposure_id_in_flags(data: Path) -> None:
    path = data / "advisories" / "us-cert" / "ta17-156a.toml"
    _edit(path, 'flags = ["snmp-default-community"]', 'flags = ["snmp-public"]')
    err = _only(_new(validate(data), data), path)
    assert err.field == "flags.0" and err.line == _line_of(path, "flags =")


def test_several_broken_files_are_all_reported(data: Path) -> None:
    adv = data / "advisories" / "fbi" / "i-092718-psa.toml"
    _edit(adv, 'title = "', 'titel = "')  # typo → missing field + unknown field
    syntax = data / "advisories" / "nsa" / "bluekeep-advisory-2019.toml"
    _edit(syntax, 'severity = "critical"', "severity = critical")
    profile = data / "profiles" / "pci.toml"
    _edit(profile, 'severity_threshold = "medium"', 'severity_threshold = "urgent"')
    framework = data / "frameworks" / "advisories-baseline.toml"
    _edit(framework, 'advisories = ["bod-26-04"]', 'advisories = ["bod-26-4"]')
    errors = _new(validate(data), data)
    assert _only(errors, adv).field in {"title", "titel"}
    syntax_err = _only(errors, syntax)
    assert syntax_err.line == _line_of(syntax, "severity =") and "invalid TOML" in str(syntax_err)
    prof_err = _only(errors, profile)
    assert prof_err.field == "severity_threshold" and prof_err.line == _line_of(profile, "severity_threshold")
    fw_errs = [e for e in errors if e.path == framework]
    assert any((e.field or "").endswith(".advisories.0") and "bod-26-4" in str(e) for e in fw_errs)
    # No knock-on noise: other advisories cover RDP and BlueKeep, and references to a file that
    # exists but failed to load are not reported a second time.
    assert {e.path for e in errors} <= {adv, syntax, profile, framework, data / "advisories"}


def test_cross_field_rule_points_at_its_line(data: Path) -> None:
    path = data / "advisories" / "cisa" / "ed-20-04.toml"
    _edit(path, 'observable = false\nwhat_would_settle_it = "', 'observable = false\nnote_to_self = "')
    err = _only(_new(validate(data), data), path)
    assert err.field == "note_to_self" and err.line == _line_of(path, "note_to_self")


def test_framework_requirement_error_points_at_the_right_table(data: Path) -> None:
    path = data / "frameworks" / "pci-dss-4.0.toml"
    _edit(
        path,
        'exposures = ["upnp-exposed", "upnp-igd-port-mappings", "ipmi-exposed"]',
        'exposures = ["upnp-exposed", "upnp-igd-port-mappings", "vnc-no-auth"]',
    )
    err = _only(_new(validate(data), data), path)
    assert err.field is not None and err.field.endswith(".exposures.2")
    assert "vnc-no-auth" in str(err)
    assert err.line == _line_of(path, '"vnc-no-auth"]')


def test_file_name_must_be_the_id(data: Path) -> None:
    src = data / "advisories" / "cisa" / "aa23-278a.toml"
    src.rename(src.with_name("top-ten.toml"))
    err = _only(_new(validate(data), data), src.with_name("top-ten.toml"))
    assert err.field == "id" and err.line == 1


def test_exposure_without_any_advisory_is_reported(data: Path) -> None:
    path = data / "advisories" / "us-cert" / "ta14-017a.toml"
    path.unlink()
    errors = _new(validate(data), data)
    assert any("upnp-exposed" in str(e) and "flagged by no advisory" in str(e) for e in errors)
    assert any("ADV-024" in str(e) for e in errors)


def test_load_catalog_raises_on_the_first_problem(data: Path) -> None:
    _edit(data / "profiles" / "baseline.toml", 'id = "baseline"', 'id = "base"')
    with pytest.raises(CatalogError):
        load_catalog(data)


def test_cli_validate_reports_every_problem_and_exits_1(data: Path) -> None:
    _edit(data / "profiles" / "pci.toml", 'severity_threshold = "medium"', 'severity_threshold = "urgent"')
    _edit(data / "advisories" / "cisa" / "aa22-137a.toml", 'severity = "high"', 'severity = "severe"')
    result = CliRunner().invoke(app, ["validate", str(data)])
    assert result.exit_code == 1
    assert "pci.toml" in result.output and "aa22-137a.toml" in result.output


@pytest.mark.parametrize(
    ("old", "new", "field", "needle"),
    [
        ('official_id = "TA17-156A"', 'official_id = "CISA alert"', "official_id", "not a citable identifier"),
        ('official_id = "TA17-156A"', 'official_id = "SMB best practices"', "official_id", "not a citable identifier"),
        ("published = 2017-06-05", 'published = "2017-06"', "published", "date"),
        ('vantage = "either"\n', "", "vantage", "Field required"),
    ],
)
def test_advisory_provenance_is_checked(data: Path, old: str, new: str, field: str, needle: str) -> None:
    path = data / "advisories" / "us-cert" / "ta17-156a.toml"
    _edit(path, old, new)
    err = _only(_new(validate(data), data), path)
    assert err.field == field and needle in str(err)


def test_advisory_without_url_must_say_why(data: Path) -> None:
    path = data / "advisories" / "us-cert" / "ta17-156a.toml"
    _edit(path, 'url = "https://www.cisa.gov/news-events/alerts/2017/06/05/reducing-risk-snmp-abuse"\n', "")
    err = _only(_new(validate(data), data), path)
    assert err.field == "url" and "verify" in str(err)
    # An empty address with the reason recorded is accepted (ED 20-04 ships that way).
    _edit(path, "summary = ", 'verify = ["url: not found in any stored copy"]\nsummary = ')
    assert _new(validate(data), data) == []


AUDIT = 'id = "164.312(b)"\ntitle = "Audit controls: record and examine activity on systems holding ePHI."\n'


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (AUDIT + 'vantage = "either"\n', AUDIT, "Field required"),
        (AUDIT + 'vantage = "either"\nattestation = true\n', AUDIT + 'vantage = "either"\n', "attestation = true"),
    ],
)
def test_every_requirement_has_a_vantage_and_its_attestation_flag(data: Path, old: str, new: str, needle: str) -> None:
    path = data / "frameworks" / "hipaa-security-rule.toml"
    _edit(path, old, new)
    err = _only(_new(validate(data), data), path)
    assert needle in str(err)
    assert err.line is not None


def test_attestation_requirement_cannot_list_exposures(data: Path) -> None:
    path = data / "frameworks" / "hipaa-security-rule.toml"
    _edit(
        path,
        'attestation = true\nadvisories = ["bod-22-01",',
        'attestation = true\nexposures = ["telnet-exposed"]\nadvisories = ["bod-22-01",',
    )
    err = _only(_new(validate(data), data), path)
    assert "attestation requirement cannot list exposures" in str(err)


def test_deadlines_must_cite_a_source(data: Path) -> None:
    path = data / "profiles" / "pci.toml"
    text = path.read_text()
    path.write_text(text[: text.index("source = ")])
    err = _only(_new(validate(data), data), path)
    assert "source" in str(err)
