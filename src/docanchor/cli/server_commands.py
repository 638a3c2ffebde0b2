"""Commands of the docanchor CLI (registered on the shared Typer app)."""

from __future__ import annotations
