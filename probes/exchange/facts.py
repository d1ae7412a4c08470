"""What an Exchange web front end tells an unauthenticated client."""

from __future__ import annotations

import enum
from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from duecare.probes.base import Facts
from duecare.probes.ntlm import NtlmInfo

#: 3 or 4 dotted numbers, each small enough that no hostile value balloons a comparison.
BUILD_PATTERN = r"^\d{1,3}\.\d{1,3}\.\d{1,5}(\.\d{1,5})?$"


class BuildSource(enum.StrEnum):
    """Where a build came from, best first (detection-methods §1.2 A, B, C)."""

    ECP_EXPORT_TOOL = "ecp-exporttool-manifest"
    OWA_VERSION_HEADER = "x-owa-version-header"
    OWA_LOGON_PATH = "owa-logon-path"

    @property
    def rank(self) -> int:
        return list(BuildSource).index(self)


class BuildPrecision(enum.StrEnum):
    #: major.minor.build.revision: the security update level is visible.
    FULL = "full"
    #: major.minor.build only: the CU is known, the SU is not (OWA path folders ignore SUs, §1.7 G2).
    CU = "cu"


class BuildObservation(Facts):
    version: str = Field(pattern=BUILD_PATTERN)
    source: BuildSource
    precision: BuildPrecision
    #: The request path that disclosed it.
    path: str = Field(max_length=256)

    @model_validator(mode="after")
    def _precision_matches_parts(self) -> BuildObservation:
        want = BuildPrecision.FULL if len(self.parts) == 4 else BuildPrecision.CU
        if self.precision is not want:
            raise ValueError(f"{self.version} has {len(self.parts)} parts but precision {self.precision}")
        return self

    @property
    def parts(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split("."))


class Endpoint(enum.StrEnum):
    OWA = "owa"
    OWA_LOGON = "owa-logon"
    ECP_EXPORT_TOOL = "ecp-exporttool"
    EWS = "ews"
    AUTODISCOVER = "autodiscover"


class EndpointResponse(Facts):
    endpoint: Endpoint
    path: str = Field(max_length=256)
    #: None when the request failed after earlier ones had answered (timeout, reset).
    status: int | None = Field(default=None, ge=100, le=999)
    #: The answer looked like Exchange (version header, FE/BE header, OWA asset path, manifest).
    exchange_marker: bool = False
    location: str | None = Field(default=None, max_length=512)
    error: str | None = Field(default=None, max_length=200)


class ExchangeFacts(Facts):
    #: The day the probe ran: the decision compares it with end-of-support and SU release dates.
    observed_on: date
    scheme: Literal["http", "https"]
    exchange_detected: bool
    #: The best build seen (source rank first), or None when none was disclosed.
    build: BuildObservation | None = None
    builds_seen: tuple[BuildObservation, ...] = Field(default=(), max_length=16)
    responses: tuple[EndpointResponse, ...] = Field(default=(), max_length=8)
    #: X-FEServer values (front-end NetBIOS names); more than one means a load-balanced farm (§1.7 G6).
    fe_servers: tuple[str, ...] = Field(default=(), max_length=8)
    #: X-CalculatedBETarget values (back-end FQDNs).
    be_targets: tuple[str, ...] = Field(default=(), max_length=8)
    server_header: str | None = Field(default=None, max_length=200)
    owa_title: str | None = Field(default=None, max_length=200)
    #: Plain HTTP that only redirects to HTTPS on the same host: nothing more was asked here.
    redirects_to_https: bool = False
    #: OWA redirected logons to another host (hybrid / federated sign-in, §1.7 G7).
    external_login_host: str | None = Field(default=None, max_length=255)
    ntlm: NtlmInfo | None = None
    #: Values we saw but could not use (malformed version strings, bad NTLM blobs), for the report.
    anomalies: tuple[str, ...] = Field(default=(), max_length=16)
    requests_sent: int = Field(default=0, ge=0, le=16)
    #: True when the probe stopped early (time budget or a failed request) and skipped requests.
    incomplete: bool = False
