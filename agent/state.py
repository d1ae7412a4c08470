"""The agent's state directory: identity key, collector credential, outbox. Secrets are 0600."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from duecare.agent.errors import AgentError
from duecare.wire.models import Vantage

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEFAULT_STATE_DIR = Path("/var/lib/duecare")
KEY_FILE = "agent.key"
ENROLLMENT_FILE = "enrollment.json"
OUTBOX_FILE = "outbox.sqlite"


class StateError(AgentError):
    pass


class Enrollment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    collector_url: str
    agent_id: str
    site_id: str
    client_id: str
    credential: str
    #: The collector's receipt key, pinned at enrollment (None: enrolled before receipts were signed).
    collector_key: str | None = None
    #: ``internet``: this agent scans the site's declared public addresses from outside (issue 14).
    vantage: Vantage = Vantage.INTERNAL


def _write_secret(path: Path, data: bytes) -> None:
    """Create with 0600 from the start (no window where another user could read it), then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass(frozen=True)
class StateDir:
    path: Path

    def ensure(self) -> StateDir:
        """Make the directory (0700) if missing; fail with the command that fixes it, not a traceback."""
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"cannot create the state directory {self.path}: {exc.strerror}; {self._fix()}") from exc
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise StateError(f"the state directory {self.path} is not writable by this user; {self._fix()}")
        return self

    def _fix(self) -> str:
        return (
            f"make it for the user that runs duecare: install -d -m 0700 -o duecare -g duecare {self.path} "
            "(scripts/install-agent.sh does)"
        )

    @property
    def outbox_path(self) -> Path:
        return self.path / OUTBOX_FILE

    def key(self, *, create: bool = False) -> Ed25519PrivateKey:
        # Imported here: the daemon never signs (its cycles do, in their own process), so it never
        # loads the library (~8 MB resident).
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = self.path / KEY_FILE
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, Ed25519PrivateKey):
                raise StateError(f"{path}: not an Ed25519 key")
            return loaded
        if not create:
            raise StateError(f"{path}: no agent key; run `duecare agent enroll` first")
        self.ensure()
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_secret(path, pem)
        return key

    def check_key(self) -> None:
        """The key is there and is a PEM private key: checked without loading it (see ``key``)."""
        path = self.path / KEY_FILE
        try:
            head = path.read_bytes()[:64]
        except FileNotFoundError as exc:
            raise StateError(f"{path}: no agent key; run `duecare agent enroll` first") from exc
        except OSError as exc:
            raise StateError(f"{path}: cannot read the agent key: {exc}") from exc
        if not head.startswith(b"-----BEGIN PRIVATE KEY-----"):
            raise StateError(f"{path}: not an Ed25519 key")

    def enrollment(self) -> Enrollment:
        path = self.path / ENROLLMENT_FILE
        try:
            return Enrollment.model_validate_json(path.read_bytes())
        except FileNotFoundError as exc:
            raise StateError(f"{path}: not enrolled; run `duecare agent enroll` first") from exc
        except ValueError as exc:
            raise StateError(f"{path}: unreadable enrollment: {exc}") from exc

    def save_enrollment(self, e: Enrollment) -> None:
        self.ensure()
        _write_secret(self.path / ENROLLMENT_FILE, e.model_dump_json(indent=2).encode())


def dumps(obj: object) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)
