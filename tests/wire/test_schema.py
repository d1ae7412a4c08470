"""The committed JSON Schema is the contract: it must not drift from the models silently."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from duecare.wire import Exposure, Report, ScanMode, ScopeRecord
from duecare.wire.schema import SCHEMA_DIR, schemas


@pytest.mark.parametrize("name", sorted(schemas()))
def test_committed_schema_matches_models(name: str) -> None:
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert committed == schemas()[name], f"run `python -m wire.schema` and commit {name}"


def _report(**kw: object) -> dict[str, object]:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "report_id": str(uuid.uuid4()),
        "duecare_version": "0.1.0",
        "catalog_version": "x" * 64,
        "started_at": now.isoformat(),
        "finished_at": now.isoformat(),
        "scope": ScopeRecord(
            targets=("198.18.0.0/24",),
            tcp_ports="1-1024",
            udp_ports="161",
            probe_classes=("non-intrusive",),
            mode=ScanMode.SYN,
            privileged=True,
        ).model_dump(mode="json"),
    }
    base.update(kw)
    return base


def test_report_round_trips() -> None:
    r = Report.model_validate(_report())
    assert Report.model_validate_json(r.model_dump_json()) == r


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Report.model_validate(_report(surprise=1))


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        Report.model_validate(_report(started_at="2026-01-01T00:00:00"))


def test_exposure_vocabulary_is_stable() -> None:
    # Public interface: ids may be added, never renamed or removed.
    required = {
        "rdp-exposed",
        "rdp-no-nla",
        "rdp-standard-security",
        "rdp-bluekeep-likely",
        "smbv1-enabled",
        "smb-signing-not-required",
        "smb-guest-access",
        "exchange-unpatched",
        "exchange-unsupported",
        "ftp-anonymous",
        "ftp-cleartext",
        "telnet-exposed",
        "snmp-default-community",
        "redis-no-auth",
        "mongodb-no-auth",
        "elasticsearch-no-auth",
        "memcached-exposed",
        "vnc-no-auth",
        "tls-obsolete-protocol",
        "tls-certificate-expired",
        "upnp-exposed",
        "ipmi-exposed",
        "printer-raw-exposed",
        "rmm-tool-exposed",
    }
    assert required <= {e.value for e in Exposure}
