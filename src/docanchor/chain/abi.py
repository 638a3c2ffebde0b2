"""The contract's ABI facts that are not in the artifact: its role and event topic, hex
forms, and reading a reverted call (the contract's custom errors, ``Error(string)`` and
``Panic``) into :class:`~docanchor.errors.ContractRevertError` with readable words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from eth_abi.abi import decode as abi_decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from docanchor.errors import (
    ContractRevertError,
)

ANCHORER_ROLE: Final = keccak(text="ANCHORER_ROLE")
ANCHORED_TOPIC: Final = "0x" + keccak(text="Anchored(uint64,bytes32,uint64,address)").hex()
_ERROR_STRING_SELECTOR: Final = bytes.fromhex("08c379a0")
_PANIC_SELECTOR: Final = bytes.fromhex("4e487b71")


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _readable_revert(name: str, args: Sequence[Any]) -> str:
    if name == "ZeroRoot":
        return "the Merkle root must not be zero"
    if name == "ZeroTreeSize":
        return "the tree size must not be zero"
    if name == "TreeSizeNotGrowing":
        latest, given = int(args[0]), int(args[1])
        if latest == 0:
            return f"the tree size must be at least 1, got {given}"
        return (
            f"tree size {given} does not grow the log: the latest anchored checkpoint "
            f"already has tree size {latest}"
        )
    if name == "InconsistentHistory":
        latest, given = int(args[0]), int(args[1])
        if latest == 0:
            return (
                f"the first checkpoint (tree size {given}) takes an empty consistency proof; "
                "nothing is anchored yet"
            )
        return (
            f"the consistency proof does not show that the tree of size {given} extends "
            f"the anchored checkpoint of size {latest}; the contract refuses a history "
            "that drops, changes or reorders an anchored leaf"
        )
    if name == "RootAlreadyAnchored":
        return f"root {bytes(args[0]).hex()} is already anchored (seq {args[1]})"
    if name == "AccessControlUnauthorizedAccount":
        role = bytes(args[1])
        role_name = (
            "ANCHORER_ROLE"
            if role == ANCHORER_ROLE
            else "DEFAULT_ADMIN_ROLE"
            if role == bytes(32)
            else "role 0x" + role.hex()
        )
        return f"account {to_checksum_address(args[0])} does not hold {role_name} on the contract"
    if name == "SafeCastOverflowedUintDowncast":
        return f"a value does not fit the contract's {args[0]}-bit field: {args[1]}"
    if name == "Error":
        return f"the contract refused the call: {args[0]}"
    if name == "Panic":
        return f"the contract panicked (code 0x{int(args[0]):02x})"
    shown = ", ".join(_hex(a) if isinstance(a, bytes) else str(a) for a in args)
    return f"the contract refused the call: {name}({shown})"


class _ErrorDecoder:
    """Maps revert data (selector + ABI arguments) to a named, readable error."""

    def __init__(self, abi: Sequence[dict[str, Any]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str]]] = {
            _ERROR_STRING_SELECTOR: ("Error", ["string"]),
            _PANIC_SELECTOR: ("Panic", ["uint256"]),
        }
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [str(i["type"]) for i in item.get("inputs", [])]
            signature = f"{item['name']}({','.join(types)})"
            self._errors[keccak(text=signature)[:4]] = (str(item["name"]), types)

    def decode(self, data: Any, fallback: str) -> ContractRevertError:
        raw = self._as_bytes(data)
        if raw is None or len(raw) < 4:
            return ContractRevertError(f"the contract refused the call: {fallback}", None)
        known = self._errors.get(raw[:4])
        if known is None:
            return ContractRevertError(
                f"the contract refused the call with unknown error 0x{raw[:4].hex()}", None
            )
        name, types = known
        try:
            args = list(abi_decode(types, raw[4:]))
        except Exception:  # malformed arguments: still report the name
            return ContractRevertError(f"the contract refused the call: {name}", name)
        return ContractRevertError(_readable_revert(name, args), name)

    @staticmethod
    def _as_bytes(data: Any) -> bytes | None:
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, bytes | bytearray):
            return bytes(data)
        if isinstance(data, str):
            text = data[2:] if data.startswith("0x") else data
            try:
                return bytes.fromhex(text)
            except ValueError:
                return None
        return None
