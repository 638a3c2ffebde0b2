"""A docanchor service's log over HTTP, for the period audit (log-v1 section 5).

An adapter: it fetches and parses, nothing more. Whatever it returns is the
service's word, which :mod:`docanchor.audit` checks against the chain. A
malformed answer raises :class:`VerificationError` (the service said
something that is not a log); a refused or failed request raises the error
that names why (a bad key, an unreachable service).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

from docanchor.audit import ListedCheckpoint
from docanchor.errors import (
    AuthenticationError,
    ConfigError,
    DocAnchorError,
    InputError,
    PermissionDeniedError,
    VerificationError,
)
from docanchor.hashing import parse_hex64
from docanchor.jsontext import JSONTextError, loads_strict
from docanchor.receipt import TrustedDeployment

PAGE: Final = 1_000


class RemoteLogSource:
    """The log of the service at ``client``'s base URL, read with an API key."""

    def __init__(self, client: httpx.Client, key: str | None = None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    @classmethod
    def connect(cls, url: str, key: str | None, *, timeout: float = 60.0) -> RemoteLogSource:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--url must be an http:// or https:// URL, got {url!r}")
        return cls(httpx.Client(base_url=url.rstrip("/"), timeout=timeout), key)

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: Mapping[str, int]) -> Any:
        try:
            response = self.client.get(path, params=dict(params), headers=self.headers)
        except httpx.HTTPError as exc:
            raise ConfigError(
                f"the service at {self.client.base_url} is unreachable: {exc}"
            ) from None
        if response.status_code == 401:
            raise AuthenticationError(f"the service refused the key: {_detail(response)}")
        if response.status_code == 403:
            raise PermissionDeniedError(f"the service refused the key: {_detail(response)}")
        if response.status_code != 200:
            raise VerificationError(
                f"GET {path} answered {response.status_code}: {_detail(response)}"
            )
        try:
            return loads_strict(response.content, what=f"the answer to GET {path}")
        except JSONTextError as exc:
            raise VerificationError(str(exc)) from None

    def current_deployment(self) -> TrustedDeployment:
        """The contract the service says it anchors in (``GET /v1/deployments``, the
        entry marked ``current``): only a claim, which the auditor's trust decides."""
        body = self._get("/v1/deployments", {})
        current = [
            item
            for item in _member(body, "deployments", list)
            if isinstance(item, dict) and item.get("current") is True
        ]
        if len(current) != 1:
            raise VerificationError(
                f"the service names {len(current)} current deployments in GET /v1/deployments, "
                "not one"
            )
        try:
            return TrustedDeployment(current[0]["chain_id"], current[0]["address"])
        except KeyError as exc:
            raise VerificationError(f"the service's current deployment has no {exc}") from None
        except DocAnchorError as exc:
            raise VerificationError(f"the service's current deployment: {exc}") from None

    def checkpoints(self) -> list[ListedCheckpoint]:
        found: list[ListedCheckpoint] = []
        start = 0
        while True:
            body = self._get("/v1/log/checkpoints", {"start": start, "limit": PAGE})
            items = _member(body, "checkpoints", list)
            page: list[ListedCheckpoint] = []
            for item in items:
                if not isinstance(item, dict):
                    raise VerificationError("a checkpoint is not a JSON object")
                seq = item.get("seq")
                if seq is None:
                    continue  # not anchored yet
                size, root, block = (
                    item.get("tree_size"),
                    item.get("root"),
                    item.get("block_number"),
                )
                if type(seq) is not int or type(size) is not int or not isinstance(root, str):
                    raise VerificationError(f"checkpoint {seq!r} is malformed")
                page.append(
                    ListedCheckpoint(seq, size, root, block if type(block) is int else None)
                )
            found += page
            if len(items) < PAGE or not page:
                return found
            start = page[-1].seq + 1

    def compact_range(self, size: int) -> list[bytes]:
        body = self._get("/v1/log/compact-range", {"size": size})
        return _hashes(_member(body, "compact_range", list), "compact range")

    def leaves(self, start: int, end: int) -> list[bytes]:
        body = self._get("/v1/log/leaves", {"start": start, "end": end})
        return _hashes(_member(body, "leaves", list), "leaf")

    def entries(self, start: int, end: int) -> list[Mapping[str, Any]]:
        body = self._get("/v1/log/entries", {"start": start, "end": end})
        items: list[Mapping[str, Any]] = []
        for item in _member(body, "entries", list):
            if not isinstance(item, dict):
                raise VerificationError("an entry is not a JSON object")
            items.append(item)
        return items


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    return response.text[:200]


def _member(body: Any, name: str, kind: type) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get(name), kind):
        raise VerificationError(f"the answer has no {name!r} {kind.__name__}")
    return body[name]


def _hashes(values: list[Any], what: str) -> list[bytes]:
    try:
        return [parse_hex64(v, what) for v in values]
    except DocAnchorError as exc:
        raise VerificationError(str(exc)) from None


__all__ = ["RemoteLogSource"]
