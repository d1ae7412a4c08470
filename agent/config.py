"""AgentConfig: one TOML file, validated strictly; secrets may come from the environment."""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from duecare.agent.errors import AgentError
from duecare.wire import Severity

_ENV_SECRETS = {"DUECARE_COLLECTOR_URL": ("collector", "url")}


class ConfigError(AgentError):
    """A config that cannot be used. The message names the key and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScopeConfig(_Section):
    targets: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    #: Refuse scopes larger than this many addresses (a typo like /8 should not start a scan).
    max_addresses: Annotated[int, Field(ge=1)] = 65536


class PortsConfig(_Section):
    #: "default": nmap's top ``top_tcp`` ∪ every probe's standard and alternate ports ∪ ``extra_tcp``;
    #: "all": every TCP port 1-65535 of each live host. ``duecare scan --ports`` overrides it.
    tcp_range: Literal["default", "all"] = "default"
    #: The same choice for the daemon's scheduled cycles: a night has time for every port.
    nightly_tcp_range: Literal["default", "all"] = "all"
    top_tcp: Annotated[int, Field(ge=0, le=65535)] = 1000
    extra_tcp: tuple[Annotated[int, Field(ge=1, le=65535)], ...] = ()
    extra_udp: tuple[Annotated[int, Field(ge=1, le=65535)], ...] = ()
    #: Lower bound on nmap's packet rate. Without it a firewalled host (every port dropped)
    #: holds the whole scan in retransmission timeouts; 0 leaves pacing to nmap's -T4.
    min_rate: Annotated[int, Field(ge=0, le=100000)] = 2000


class ProbesConfig(_Section):
    classes: tuple[Literal["non-intrusive", "vuln-specific"], ...] = ("non-intrusive",)
    disabled: tuple[str, ...] = ()


class LimitsConfig(_Section):
    concurrency: Annotated[int, Field(ge=1, le=1024)] = 64
    per_host: Annotated[int, Field(ge=1, le=32)] = 2
    #: UDP exchanges at once against any one host (each waits out silence on its own clock).
    per_host_udp: Annotated[int, Field(ge=1, le=32)] = 4
    connections_per_second: Annotated[float, Field(ge=0)] = 0.0
    blocking_workers: Annotated[int, Field(ge=1, le=128)] = 16
    #: After this many TCP services of one host accepted and then stayed silent (and none
    #: answered), the host's remaining probes are skipped. 0 disables. On a host whose round trip
    #: the port stage measured at LAN speed (≤ 10 ms), one service that accepted and never sent a
    #: first byte within the first-bytes wait is already conclusive.
    silent_host_timeouts: Annotated[int, Field(ge=0, le=100)] = 3


class TimeoutsConfig(_Section):
    connect: Annotated[float, Field(gt=0, le=60)] = 3.0
    read: Annotated[float, Field(gt=0, le=120)] = 5.0
    probe: Annotated[float, Field(gt=0, le=600)] = 20.0
    #: Floors of the waits shortened to 100 round trips when the port stage measured the host's
    #: round trip: a peer's first bytes over TCP, and a UDP answer. Later answers keep ``read``.
    first_bytes: Annotated[float, Field(gt=0, le=120)] = 2.0
    udp: Annotated[float, Field(gt=0, le=120)] = 1.0
    #: ARP answers come within milliseconds on a LAN: one round waits this long, then one
    #: resend to the addresses that did not answer waits a quarter of it (a lost frame).
    arp: Annotated[float, Field(gt=0, le=30)] = 1.0
    discovery: Annotated[float, Field(gt=0, le=3600)] = 120.0
    ports: Annotated[float, Field(gt=0, le=86400)] = 900.0


class CollectorConfig(_Section):
    url: str | None = None
    #: A report the collector answers with a server error (5xx, not 503) this many times, over at
    #: least ``hold_after_s`` seconds, is set aside (held) so the reports after it are delivered.
    hold_after_errors: Annotated[int, Field(ge=1, le=1000)] = 5
    hold_after_s: Annotated[float, Field(ge=0, le=7 * 86400)] = 900.0
    #: A held report is tried again this often until the collector takes or refuses it.
    held_retry_s: Annotated[float, Field(ge=60, le=7 * 86400)] = 6 * 3600.0

    @field_validator("url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if not v:
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v


class ReportConfig(_Section):
    profile: str = "baseline"
    severity_threshold: Severity = Severity.MEDIUM
    authorized_by: str | None = None
    #: The day this MSP's engagement began (overrides the profile's): deadlines run from then at the
    #: earliest, and what was overdue before it is reported as inherited.
    engagement_start: date | None = None
    #: A file of signed attestations ([[attestations]]) for duties no scan can judge.
    attestations: Path | None = None
    #: Older KEV snapshots turn "not in KEV" into "KEV unknown" (and a warning in the report).
    kev_max_age_days: Annotated[int, Field(ge=1, le=3650)] = 7

    @field_validator("authorized_by")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("engagement_start", "attestations", mode="before")
    @classmethod
    def _empty_string_is_none(cls, v: object) -> object:
        return None if v == "" else v


class ScheduleConfig(_Section):
    cron: str = "0 2 * * *"
    jitter_s: Annotated[int, Field(ge=0, le=86400)] = 900
    misfire_grace_s: Annotated[int, Field(ge=1)] = 3600
    maintenance_window: str | None = None

    @field_validator("maintenance_window")
    @classmethod
    def _window(cls, v: str | None) -> str | None:
        if not v:
            return None
        start, sep, end = v.partition("-")
        for part in (start, end):
            hh, colon, mm = part.partition(":")
            if not (sep and colon and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                raise ValueError("must look like HH:MM-HH:MM")
        return v


class AgentConfig(_Section):
    scope: ScopeConfig = Field(default_factory=ScopeConfig)
    ports: PortsConfig = Field(default_factory=PortsConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    collector: CollectorConfig = Field(default_factory=CollectorConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)


def _describe(exc: ValidationError, source: str) -> str:
    """One line for one bad key; a header and one indented line per key when there are several."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{key}: {msg}")
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    return "\n".join([f"{source}: invalid configuration", *(f"  {p}" for p in problems)])


def load_config(path: Path | None, env: dict[str, str] | None = None) -> AgentConfig:
    env = dict(os.environ) if env is None else env
    raw: dict[str, object] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: config file not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for var, (section, key) in _ENV_SECRETS.items():
        if env.get(var):
            sect = raw.setdefault(section, {})
            if isinstance(sect, dict):
                sect[key] = env[var]
    try:
        return AgentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc
