"""Building a :class:`~docanchor.chain.ChainClient` from settings: the node, the recorded
deployment of its chain, and the signing account (the development key only on chain 31337).
"""

from __future__ import annotations

import json

from eth_account import Account
from eth_account.signers.local import LocalAccount

from docanchor.chain.transactions import _DEV_ADDRESS, ChainClient, _dev_key_refused
from docanchor.config import ANVIL_DEV_PRIVATE_KEY, DEV_CHAIN_ID, Settings
from docanchor.errors import (
    ChainIdentityError,
    ConfigError,
)


def _keystore_account(settings: Settings) -> LocalAccount:
    assert settings.keystore is not None
    password = settings.keystore_secret()
    if password is None:
        raise ConfigError(
            "DOCANCHOR_KEYSTORE is set but has no password: set DOCANCHOR_KEYSTORE_PASSWORD "
            "or DOCANCHOR_KEYSTORE_PASSWORD_FILE"
        )
    try:
        encrypted = json.loads(settings.keystore.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"DOCANCHOR_KEYSTORE cannot be read: {exc.strerror}") from None
    except ValueError:
        raise ConfigError("DOCANCHOR_KEYSTORE is not a JSON keystore file") from None
    try:
        key = Account.decrypt(encrypted, password)
    except Exception:  # wrong password or a damaged file; never echo either
        raise ConfigError(
            "DOCANCHOR_KEYSTORE cannot be decrypted (wrong password or damaged file)"
        ) from None
    account: LocalAccount = Account.from_key(key)
    return account


def connect_chain(settings: Settings, *, require_signer: bool = True) -> ChainClient:
    """A :class:`ChainClient` for the configured node, contract and account.

    Contacts the node once (``eth_chainId``). The contract is
    ``DOCANCHOR_CONTRACT_ADDRESS`` or the deployment recorded in the data dir
    for the node's chain id. With ``require_signer``, the account is
    ``DOCANCHOR_PRIVATE_KEY``, else ``DOCANCHOR_KEYSTORE``, else the
    development key, which is refused on any chain but 31337.
    """
    account: LocalAccount | None = None
    if require_signer:
        if settings.private_key is not None:
            account = Account.from_key(settings.private_key)
        elif settings.keystore is not None:
            account = _keystore_account(settings)
    client = ChainClient(
        rpc_url=settings.rpc_url,
        account=account,
        poa=settings.poa,
        expected_chain_id=settings.chain_id,
        max_fee_gwei=settings.max_fee_gwei,
        request_timeout=settings.rpc_timeout,
        retry_deadline=settings.rpc_retry_deadline,
    )
    chain_id = client.chain_id
    record = settings.recorded_deployment()
    if (
        settings.contract_address is None
        and record is not None
        and record.get("chain_id") != chain_id
    ):
        # Never advise a deployment here: that would mix two chains in one
        # data dir and database.
        raise ChainIdentityError(
            f"the node at {client.node} is on chain {chain_id}, but the deployment recorded "
            f"in {settings.deployment_path} is on chain {record.get('chain_id')} "
            f"({record.get('address')}); point DOCANCHOR_RPC_URL at a node of chain "
            f"{record.get('chain_id')}, or use another DOCANCHOR_DATA_DIR for chain {chain_id}"
        )
    if require_signer:
        if account is None:
            if chain_id != DEV_CHAIN_ID:
                raise ConfigError(_dev_key_refused(chain_id))
            client._account = Account.from_key(ANVIL_DEV_PRIVATE_KEY)
        elif account.address == _DEV_ADDRESS and chain_id != DEV_CHAIN_ID:
            raise ConfigError(_dev_key_refused(chain_id))
    address = settings.contract_address
    if address is None and record is not None:
        address = str(record["address"])
    if address is not None:
        client.use_contract(address)
    return client
