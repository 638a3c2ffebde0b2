"""Operating the service: API keys, health checks, counts, the signing key, closing."""

from __future__ import annotations

from datetime import datetime

from docanchor import keys
from docanchor.errors import ConfigError, NotFoundError
from docanchor.keys import KeyRecord, NewKey
from docanchor.service.base import ServiceBase
from docanchor.store import SCHEMA_HEAD
from docanchor.vocabulary import utcnow


class Admin(ServiceBase):
    """API keys, health checks and counts."""

    # --- API keys ------------------------------------------------------------------

    def create_api_key(
        self, *, role: str, entity_ruc: str | None, label: str | None = None
    ) -> NewKey:
        """A new API key; its secret is in the answer and nowhere else."""
        return keys.create_key(self.store, role=role, entity_ruc=entity_ruc, label=label)

    def api_keys(self) -> list[KeyRecord]:
        return keys.list_keys(self.store)

    def revoke_api_key(self, key_id: int, *, now: datetime | None = None) -> KeyRecord:
        """Revoke the key ``key_id``; :class:`NotFoundError` when there is none."""
        key = keys.revoke_key(self.store, key_id, now or utcnow())
        if key is None:
            raise NotFoundError(f"there is no API key {key_id}")
        return key

    def authorize(self, secret: str, roles: tuple[str, ...]) -> KeyRecord:
        """The key of ``secret`` when it is known, not revoked and has one of ``roles``."""
        return keys.authorize(self.store, secret, roles)

    # --- counts ----------------------------------------------------------------------

    def document_counts(self) -> dict[str, int]:
        """Registered documents by status (every status, 0 included)."""
        return self.store.document_counts()

    def batch_counts(self) -> tuple[dict[str, int], datetime | None]:
        """Batches by status (every status, 0 included) and when the newest was confirmed."""
        return self.store.batch_counts()

    # --- the service itself: health checks, the signing key ----------------------

    @property
    def database_dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.store.dialect

    def check_database(self) -> str:
        """Reach the database (a :class:`StoreError` when it cannot); says which it is."""
        self.store.ping()
        return f"reachable ({self.store.dialect})"

    def check_schema(self) -> str:
        """Whether the database is migrated to the newest schema; raises when it is not."""
        revision = self.store.schema_revision()
        if revision != SCHEMA_HEAD:
            raise ConfigError(
                f"the database schema is at revision {revision or 'none'}, not {SCHEMA_HEAD}; "
                "restart docanchor serve (it migrates on start)"
            )
        return f"schema at revision {revision}"

    def check_chain_contract(self) -> str:
        """Whether the contract has code on the chain; raises when it has none."""
        chain = self.chain
        chain.check_contract()
        return f"code present at {chain.contract_address} on chain {chain.chain_id}"

    def chain_head(self) -> tuple[int, int | None]:
        """The chain's head block number and its timestamp (None when the node has none)."""
        chain = self.chain
        head = chain.head_number()
        return head, chain.block_timestamp(head)

    def signing_public_key(self) -> bytes | None:
        """The raw Ed25519 key that signs this service's receipts; None when none do."""
        return None if self.signer is None else self.signer.public_raw

    def close(self) -> None:
        """Close the database connections."""
        self.store.close()
