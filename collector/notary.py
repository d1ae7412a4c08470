"""The collector's own Ed25519 key, which signs every receipt.

Kept in the database (``collector_keys``) so every replica signs with the same key; made on first
use. Two replicas making it at once: the second insert fails on the primary key and re-reads.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from duecare.collector.db.models import CollectorKey
from duecare.collector.db.session import Database
from duecare.wire import Receipt
from duecare.wire.signatures import public_key_b64, sign_receipt

KEY_ID = "receipts"


class Notary:
    def __init__(self, db: Database, name: str) -> None:
        self.db, self.name = db, name
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    def key(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                self._key = self._load() or self._create()
            return self._key

    def public_key(self) -> str:
        return public_key_b64(self.key())

    def sign(self, receipt: Receipt) -> Receipt:
        return sign_receipt(self.key(), receipt.model_copy(update={"collector": self.name}))

    def _load(self) -> Ed25519PrivateKey | None:
        with self.db.read() as s:
            pem = s.scalars(select(CollectorKey.private_pem).where(CollectorKey.id == KEY_ID)).first()
        if pem is None:
            return None
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return key

    def _create(self) -> Ed25519PrivateKey:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        try:
            with self.db.write() as s:
                s.add(
                    CollectorKey(
                        id=KEY_ID, private_pem=pem, public_key=public_key_b64(key), created_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:
            loaded = self._load()
            assert loaded is not None
            return loaded
        return key
