"""FTP predicates (ADV-021; TA18-106A, AA22-137A): anonymous login, logins in cleartext."""

from __future__ import annotations

from pydantic import JsonValue

from duecare.advisories.predicates.base import Check, NoParams, PredicateRegistry, affected, indeterminate, not_affected
from duecare.probes.ftp.facts import FtpFacts
from duecare.wire import Confidence


def register(reg: PredicateRegistry) -> None:
    @reg.add("ftp.anonymous_login", FtpFacts)
    def anonymous_login(f: FtpFacts, _p: NoParams) -> Check:
        """USER anonymous is accepted: anyone can read what the FTP root serves."""
        if f.anonymous_login is None:
            return indeterminate("the server did not answer the anonymous login clearly")
        if not f.anonymous_login:
            return not_affected("anonymous login refused", confidence=Confidence.CERTAIN)
        details: dict[str, JsonValue] = {
            "listing_obtained": f.listing_obtained,
            "root_entries": f.listing_total,
            "names": [e.name for e in f.listing],
            # From mode bits in the listing only: nothing was ever written to find out.
            "world_writable_by_mode": [e.name for e in f.listing if e.world_writable],
        }
        if f.listing_error:
            details["listing_error"] = f.listing_error
        seen = f"; root lists {f.listing_total} entries" if f.listing_obtained else ""
        return affected(f"anonymous FTP login accepted{seen}", confidence=Confidence.CERTAIN, details=details)

    @reg.add("ftp.no_tls", FtpFacts)
    def no_tls(f: FtpFacts, _p: NoParams) -> Check:
        """The server offers no AUTH TLS (RFC 4217): user names and passwords cross the LAN in clear."""
        if f.tls_available is None:
            return indeterminate("AUTH TLS support could not be determined")
        how = "FEAT" if f.tls_evidence == "feat" else "the AUTH TLS reply"
        if f.tls_available:
            return not_affected(f"AUTH TLS offered (seen in {how})", confidence=Confidence.CERTAIN)
        return affected(
            f"no AUTH TLS offered (seen in {how}): logins are sent in cleartext", confidence=Confidence.CERTAIN
        )
