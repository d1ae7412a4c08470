"""Progress reporting as an interface, so the scan core does not know about terminals."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def stage(self, name: str, total: int | None = None, *, beside: bool = False) -> None:
        """A new stage. It ends the stages still running, unless ``beside``: then they go on
        (pipelined stages overlap) until ``end`` closes them."""
        ...

    def end(self, name: str) -> None:
        """The stage ``name`` is over (its bar complete), whatever stage is newest."""
        ...

    def advance(self, n: int = 1) -> None: ...
    def note(self, message: str) -> None: ...


class NullProgress:
    def stage(self, name: str, total: int | None = None, *, beside: bool = False) -> None:
        pass

    def end(self, name: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass
