"""The report says how a service on a non-standard port was named (issue 16)."""

from __future__ import annotations

from duecare.report.view import ServiceView
from duecare.wire import IdentifiedBy, PortState, Proto, Service


def test_identified_service_says_how() -> None:
    svc = Service(port=2121, proto=Proto.TCP, state=PortState.OPEN, name="ftp", identified_by=IdentifiedBy.GREETING)
    assert ServiceView(2121, "tcp", svc, ()).description == "ftp [named by its greeting]"


def test_table_guess_says_nothing_more() -> None:
    svc = Service(port=21, proto=Proto.TCP, state=PortState.OPEN, name="ftp")
    assert ServiceView(21, "tcp", svc, ()).description == "ftp"
