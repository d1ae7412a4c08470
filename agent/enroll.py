"""Enrollment: make the agent's key, trade the site token for a credential, keep both (0600)."""

from __future__ import annotations

import httpx

from duecare.agent.state import Enrollment, StateDir, StateError
from duecare.wire import EnrollRequest, EnrollResponse, Vantage
from duecare.wire.api import SitePublic
from duecare.wire.signatures import public_key_b64

#: The token is what ``duecare collector add-site`` / ``add-token`` printed last; its length bounds.
TOKEN_MIN, TOKEN_MAX = 16, 512


class EnrollmentRefused(StateError):
    """The collector answered and said no (bad, used or expired token): the input is wrong, not the network."""


class CollectorUnavailable(StateError):
    """The collector could not be reached or failed: the environment, not the input (retry later)."""


def check_token(token: str, source: str) -> str:
    """The token as the collector expects it, or an error that says where it came from and what is wrong."""
    token = token.strip()
    if not token:
        raise StateError(f"enrollment token from {source} is empty")
    if any(c.isspace() for c in token):
        raise StateError(f"enrollment token from {source} has more than one line or word; give only the token")
    if not TOKEN_MIN <= len(token) <= TOKEN_MAX:
        raise StateError(
            f"enrollment token from {source} is {len(token)} characters long; a token is the last line that "
            "`duecare collector add-site` (or add-token) printed"
        )
    return token


def check_collector_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("https://", "http://")) or len(url.split("://", 1)[1]) == 0:
        raise StateError(f"--collector {url!r}: give the collector's base URL, e.g. https://collector.example:8443")
    return url


def enroll(
    state: StateDir,
    collector_url: str,
    token: str,
    hostname: str,
    client: httpx.Client,
    vantage: Vantage = Vantage.INTERNAL,
) -> Enrollment:
    """``token`` must have passed :func:`check_token`; the state directory is made (0700) if missing."""
    collector_url = check_collector_url(collector_url)
    state.ensure()
    key = state.key(create=True)
    req = EnrollRequest(token=token, public_key=public_key_b64(key), hostname=hostname[:255], vantage=vantage)
    url = collector_url + "/v1/enroll"
    try:
        resp = client.post(url, json=req.model_dump(mode="json"))
    except httpx.HTTPError as exc:
        raise CollectorUnavailable(f"cannot reach the collector at {url}: {exc}") from exc
    if 400 <= resp.status_code < 500:
        raise EnrollmentRefused(f"enrollment refused by the collector: HTTP {resp.status_code} {_detail(resp)}")
    if resp.status_code not in (200, 201):
        raise CollectorUnavailable(f"the collector failed to enroll: HTTP {resp.status_code} {_detail(resp)}")
    try:
        answer = EnrollResponse.model_validate_json(resp.content)
    except ValueError as exc:
        raise CollectorUnavailable(
            f"{url} answered {resp.status_code} without an enrollment: is this a duecare collector?"
        ) from exc
    enrollment = Enrollment(
        collector_url=collector_url,
        agent_id=answer.agent_id,
        site_id=answer.site_id,
        client_id=answer.client_id,
        credential=answer.credential,
        collector_key=answer.collector_key,
        vantage=vantage,
    )
    state.save_enrollment(enrollment)
    return enrollment


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else " ".join(resp.text[:300].split())


def fetch_site_public(enrollment: Enrollment, client: httpx.Client) -> list[str]:
    """The site's declared public addresses, asked of the collector every cycle (an agent with internet
    vantage scans nothing else). Unreachable or refused: the cycle does not scan at all."""
    url = enrollment.collector_url + "/v1/site/public"
    try:
        resp = client.get(url, headers={"Authorization": f"Bearer {enrollment.credential}"})
    except httpx.HTTPError as exc:
        raise CollectorUnavailable(f"cannot fetch the site's public addresses from {url}: {exc}") from exc
    if resp.status_code != 200:
        raise CollectorUnavailable(f"{url} answered HTTP {resp.status_code} {_detail(resp)}: no outside scan")
    try:
        answer = SitePublic.model_validate_json(resp.content)
    except ValueError as exc:
        raise CollectorUnavailable(f"{url} did not answer with the site's public addresses") from exc
    return list(answer.addresses)
