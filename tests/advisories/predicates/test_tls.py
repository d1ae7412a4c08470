"""TLS predicates over facts built from the nginx recordings and hand-made edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from duecare.advisories.predicates import PredicateRegistry
from duecare.advisories.predicates.tls import ObsoleteParams, register
from duecare.probes.tls.facts import TlsFacts, TlsVersion, VersionProbe, VersionResult
from duecare.probes.x509 import parse_certificate
from duecare.wire import Verdict

FIXTURES = Path(__file__).parents[2] / "probes" / "tls" / "fixtures"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _reg() -> PredicateRegistry:
    reg = PredicateRegistry()
    register(reg)
    return reg


def _facts(results: dict[TlsVersion, VersionResult], cert: str | None = "expired") -> TlsFacts:
    der = None if cert is None else (FIXTURES / f"nginx1221_{cert}_cert.der").read_bytes()
    return TlsFacts(
        versions=tuple(
            VersionProbe(version=v, result=r, cipher="ECDHE-RSA-AES256-SHA" if r is VersionResult.ACCEPTED else None)
            for v, r in results.items()
        ),
        certificate=None if der is None else parse_certificate(der, NOW),
        certificate_error="no handshake completed" if der is None else None,
    )


A, R, T, N = (
    VersionResult.ACCEPTED,
    VersionResult.REJECTED,
    VersionResult.TIMED_OUT,
    VersionResult.NOT_TESTABLE,
)
OLD_ON = {
    TlsVersion.TLS1_3: A,
    TlsVersion.TLS1_2: A,
    TlsVersion.TLS1_1: A,
    TlsVersion.TLS1_0: A,
    TlsVersion.SSL3: N,
}
OLD_OFF = {
    TlsVersion.TLS1_3: A,
    TlsVersion.TLS1_2: A,
    TlsVersion.TLS1_1: R,
    TlsVersion.TLS1_0: R,
    TlsVersion.SSL3: N,
}


def _obsolete(facts: TlsFacts, **params: object) -> tuple[Verdict, str]:
    spec = _reg().get("tls.obsolete_protocol_accepted")
    check = spec.fn(facts, ObsoleteParams.model_validate(params))
    return check.verdict, check.reason


def test_obsolete_accepted_is_affected() -> None:
    verdict, reason = _obsolete(_facts(OLD_ON))
    assert verdict is Verdict.AFFECTED
    assert "TLSv1.0" in reason
    assert "TLSv1.1" in reason


def test_modern_only_is_not_affected_noting_untested_sslv3() -> None:
    verdict, reason = _obsolete(_facts(OLD_OFF))
    assert verdict is Verdict.NOT_AFFECTED
    assert "SSLv3 not testable" in reason


def test_untestable_can_be_made_unknown() -> None:
    verdict, _ = _obsolete(_facts(OLD_OFF), untestable_is_unknown=True)
    assert verdict is Verdict.INDETERMINATE


def test_silence_on_an_old_version_is_indeterminate() -> None:
    verdict, reason = _obsolete(_facts({**OLD_OFF, TlsVersion.TLS1_0: T}))
    assert verdict is Verdict.INDETERMINATE
    assert "TLSv1.0" in reason


def test_missing_version_result_is_indeterminate() -> None:
    verdict, _ = _obsolete(_facts({TlsVersion.TLS1_2: A}))
    assert verdict is Verdict.INDETERMINATE


def test_expired_certificate() -> None:
    check = _reg().get("tls.certificate_expired").fn(_facts(OLD_ON), None)
    assert check.verdict is Verdict.AFFECTED
    assert check.details["not_after"] == "2020-01-01T00:00:00+00:00"


def test_valid_certificate() -> None:
    der = (FIXTURES / "nginx1221_modern_cert.der").read_bytes()
    inside = x509.load_der_x509_certificate(der).not_valid_before_utc + timedelta(days=1)
    facts = _facts(OLD_OFF, cert=None).model_copy(update={"certificate": parse_certificate(der, inside)})
    check = _reg().get("tls.certificate_expired").fn(facts, None)
    assert check.verdict is Verdict.NOT_AFFECTED


def test_missing_certificate_is_indeterminate() -> None:
    check = _reg().get("tls.certificate_expired").fn(_facts(OLD_ON, cert=None), None)
    assert check.verdict is Verdict.INDETERMINATE
    assert "no handshake completed" in check.reason
