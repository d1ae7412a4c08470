"""Errors of the report family: the report cannot be written, read or fetched as asked."""

from __future__ import annotations

from duecare.errors import DuecareError


class ReportError(DuecareError):
    """The report cannot be written as asked (e.g. PDF without the optional extra)."""


class BaselineError(ReportError):
    """A file is not a duecare report (plain JSON or a signed envelope)."""


class ReadClientError(ReportError):
    """The collector refused a read or could not be reached; the message says which."""
