"""The web3 adapter: deploy ``DocumentAnchor``, anchor checkpoints, read anchors back.

It deploys version 2 of the contract, whose ``anchor(root, treeSize,
consistency)`` takes an RFC 9162 consistency proof from the latest anchored
checkpoint. Reading a root's record (``getAnchor``) works on version 1
deployments too: the function has the same signature in both.

Everything that talks to an Ethereum node goes through :class:`ChainClient`.
It signs transactions locally (a private key or an encrypted keystore; the
node never holds the key), manages nonces from the node's pending count,
prices transactions with EIP-1559 fees (legacy ``gasPrice`` on nodes without
a base fee), decodes the contract's custom errors into
:class:`~docanchor.errors.ContractRevertError`, and maps node failures onto the
:mod:`docanchor.errors` hierarchy.

The package, by responsibility:

- ``rpc``: :class:`~docanchor.chain.rpc.NodeClient`, one node: calls, retries,
  the chain's identity, blocks, mined transactions;
- ``contract``: :class:`~docanchor.chain.contract.ContractReader`, reading the
  contract: code, ``getAnchor``, ``latest()``, roles, ``Anchored`` events;
- ``transactions``: :class:`ChainClient`, signing and sending: deploy, roles,
  anchoring (prepare, broadcast, wait);
- ``abi``: the role, the event topic and revert decoding;
- ``connect``: :func:`connect_chain`, a client from settings.

Rules this package keeps:

- It is the only package that imports web3. It imports the core and config,
  never the store; the service passes a client in.
- Only transient RPC failures (connection errors, timeouts, HTTP 5xx/429) are
  retried, a few times with a short backoff. A signed anchoring transaction
  is never sent again blindly: before a resend the client asks whether the
  node already knows the transaction and whether the root is anchored.
- The development key (Anvil's first account) is used only on chain 31337.
- Keys are never logged, printed or put in error messages.
"""

from __future__ import annotations

from docanchor.chain.abi import ANCHORER_ROLE
from docanchor.chain.connect import connect_chain
from docanchor.chain.rpc import checksum_address
from docanchor.chain.transactions import ChainClient, DeploymentRecord, PreparedAnchor
from docanchor.onchain import (
    AnchoredEvent,
    MinedAnchor,
    MinedTransaction,
    OnChainCheckpoint,
    OnChainRecord,
)

__all__ = [
    "ANCHORER_ROLE",
    "AnchoredEvent",
    "ChainClient",
    "DeploymentRecord",
    "MinedAnchor",
    "MinedTransaction",
    "OnChainCheckpoint",
    "OnChainRecord",
    "PreparedAnchor",
    "checksum_address",
    "connect_chain",
]
