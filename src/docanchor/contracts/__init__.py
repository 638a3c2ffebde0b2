"""The compiled ``DocumentAnchor`` contract, as committed in ``DocumentAnchor.json``.

The artifact is produced by ``scripts/build_contract.mjs`` from
``contracts/DocumentAnchor.sol`` with a pinned compiler and settings; this
module only reads it. It must never compile anything or touch the network.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

ARTIFACT_NAME = "DocumentAnchor.json"


@cache
def _artifact_text() -> str:
    return resources.files(__package__).joinpath(ARTIFACT_NAME).read_text(encoding="utf-8")


def load_artifact() -> dict[str, Any]:
    """The artifact (``abi``, ``bytecode``, ``deployedBytecode``, compiler and settings).

    Returns a fresh dict on every call, so callers may modify it.
    """
    data = json.loads(_artifact_text())
    if not isinstance(data, dict):
        raise ValueError(f"{ARTIFACT_NAME} is not a JSON object")
    return data


__all__ = ["ARTIFACT_NAME", "load_artifact"]
