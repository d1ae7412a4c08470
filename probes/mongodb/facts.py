"""What a MongoDB server tells a client that has not authenticated."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from duecare.probes.base import Facts


class MongodbFacts(Facts):
    #: How the server was spoken to: OP_MSG (MongoDB ≥ 3.6) or legacy OP_QUERY on ``admin.$cmd``.
    wire: Literal["op_msg", "op_query"]
    #: The handshake command that answered: ``hello`` (≥ 4.4.2 / 5.0) or legacy ``isMaster``.
    handshake: Literal["hello", "isMaster"]
    is_writable_primary: bool | None = None
    #: Replica-set name, when the server is a member of one.
    set_name: str | None = Field(default=None, max_length=128)
    #: ``msg: "isdbgrid"`` marks a mongos router.
    is_mongos: bool = False
    min_wire_version: int | None = None
    max_wire_version: int | None = None
    product: str | None = None
    #: From ``buildInfo`` (allowed before authentication); read by the KEV matcher.
    version: str | None = Field(default=None, max_length=64)
    #: listDatabases answered (False), refused as Unauthorized (True), or could not tell (None).
    auth_enforced: bool | None = None
    database_count: int | None = None
    database_names: tuple[str, ...] = Field(default=(), max_length=20)
    #: ``codeName: errmsg`` of a refused listDatabases.
    list_error: str | None = Field(default=None, max_length=300)
