"""OpenAPI details FastAPI cannot infer: bodies read as streams, and problem+json errors.

Endpoints that stream their bodies (uploads) declare them with
:func:`body_doc`; every error response is documented as an RFC 9457
problem (``application/problem+json``), including FastAPI's own 422.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from docanchor.api.schemas import REQUEST_MODELS, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REASONS = {
    400: "Bad request",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role or entity may not do this",
    404: "Not found",
    409: "Conflict",
    413: "Body or file too large",
    415: "Unsupported content type",
    422: "Invalid input (the detail names the member at fault)",
    502: "The blockchain node failed",
    503: "The database or the blockchain node is unreachable",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": _REASONS.get(status, "Error"),
            "content": {"application/problem+json": {"schema": _PROBLEM_REF}},
        }
        for status in statuses
    }


def body_doc(
    *,
    json_model: str | None = None,
    multipart: Mapping[str, str] | None = None,
    required_parts: Sequence[str] = (),
    text_parts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``openapi_extra`` for a request body the endpoint reads itself."""
    content: dict[str, Any] = {}
    if json_model is not None:
        content["application/json"] = {"schema": {"$ref": f"#/components/schemas/{json_model}"}}
    if multipart is not None:
        properties: dict[str, Any] = {
            name: {"type": "string", "format": "binary", "description": text}
            for name, text in multipart.items()
        }
        for name, text in (text_parts or {}).items():
            properties[name] = {"type": "string", "description": text}
        content["multipart/form-data"] = {
            "schema": {
                "type": "object",
                "properties": properties,
                "required": list(required_parts),
                "additionalProperties": False,
            }
        }
    return {"requestBody": {"required": True, "content": content}}


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that documents streamed bodies and problems."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        models: list[type[BaseModel]] = [*REQUEST_MODELS, Problem]
        for model in models:
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in body.pop("$defs", {}).items():
                components[name] = sub
            components[model.__name__] = body
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = problem_responses(422)[422]
                if operation.get("security"):
                    responses.update({str(k): v for k, v in problem_responses(401, 403).items()})
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


__all__ = ["body_doc", "install_openapi", "problem_responses"]
