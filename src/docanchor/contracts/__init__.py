"""The compiled ``DocumentAnchor`` contracts, as committed next to this module.

- ``DocumentAnchor.json``: version 2 (``contracts/DocumentAnchor.sol``), the
  contract that ``docanchor deploy`` deploys. ``anchor(root, treeSize,
  consistency)`` accepts only checkpoints that extend the latest one.
- ``DocumentAnchorV1.json``: version 1 (``contracts/DocumentAnchorV1.sol``),
  ``anchor(root, treeSize)``. It is never deployed again; it is kept because
  deployments of it exist and receipts anchored there must stay verifiable
  (``getAnchor`` has the same signature in both versions).

The artifacts are produced by ``scripts/build_contract.mjs`` with a pinned
compiler and settings; this module only reads them. It must never compile
anything or touch the network.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Final

CURRENT: Final = "DocumentAnchor"
"""The name of the contract version that is deployed today."""

ARTIFACT_NAMES: Final = ("DocumentAnchor", "DocumentAnchorV1")
"""Every committed artifact, by name (the file name without ``.json``)."""


@cache
def _artifact_text(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def load_artifact(name: str = CURRENT) -> dict[str, Any]:
    """The artifact ``name`` (``abi``, ``bytecode``, ``deployedBytecode``, compiler and settings).

    ``name`` is one of :data:`ARTIFACT_NAMES` (:class:`ValueError` otherwise).
    Returns a fresh dict on every call, so callers may modify it.
    """
    if name not in ARTIFACT_NAMES:
        raise ValueError(f"no contract artifact named {name!r}; known: {', '.join(ARTIFACT_NAMES)}")
    data = json.loads(_artifact_text(name))
    if not isinstance(data, dict):
        raise ValueError(f"{name}.json is not a JSON object")
    return data


__all__ = ["ARTIFACT_NAMES", "CURRENT", "load_artifact"]
