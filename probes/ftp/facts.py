"""What an FTP server tells an anonymous client: greeting, features, anonymous login, root listing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts

#: Root-listing entries kept in facts; the rest is only counted.
MAX_ENTRIES = 20


EntryKind = Literal["dir", "file", "link", "other"]


class FtpEntry(Facts):
    name: str = Field(max_length=256)
    kind: EntryKind
    #: Mode bits show write for "other" (Unix LIST format only). A hint from the listing, never tested.
    world_writable: bool = False


class FtpFacts(Facts):
    #: The 220 greeting text, reply code stripped.
    banner: str = Field(max_length=2048)
    #: Server product and version when the greeting discloses them (read by the KEV matcher).
    product: str | None = None
    version: str | None = None
    #: FEAT lines (RFC 2389), empty when FEAT was refused.
    features: tuple[str, ...] = ()
    #: AUTH TLS (RFC 4217) offered; None = could not be determined.
    tls_available: bool | None = None
    tls_evidence: Literal["feat", "auth-reply"] | None = None
    #: USER anonymous accepted; None = the server refused to answer the question (e.g. 421).
    anonymous_login: bool | None = None
    #: Reply lines to USER / PASS (our password is never recorded).
    login_replies: tuple[str, ...] = ()
    listing_obtained: bool = False
    listing: tuple[FtpEntry, ...] = Field(default=(), max_length=MAX_ENTRIES)
    #: Entries seen in the root listing (may exceed what is kept).
    listing_total: int = 0
    listing_error: str | None = None
