"""One exception hierarchy for docanchor.

Every error the project raises on purpose derives from :class:`DocAnchorError`.
Each class carries the CLI exit code and the HTTP status it maps to, so the
edges (``cli`` and ``api``) translate errors in exactly one place each.

This module is part of the pure core: it imports nothing but the standard
library and must never perform I/O.
"""

from __future__ import annotations

from typing import ClassVar

# CLI exit codes shared by every command.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


class DocAnchorError(Exception):
    """Base of every error docanchor raises deliberately."""

    exit_code: ClassVar[int] = EXIT_ENVIRONMENT
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    problem_type: ClassVar[str] = "about:blank"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- bad input (exit 2, HTTP 4xx) -------------------------------------------


class InputError(DocAnchorError):
    """The caller gave something malformed or out of range."""

    exit_code = EXIT_USAGE
    http_status = 422
    title = "Invalid input"


class LogRangeError(InputError):
    """A request about the log that names no checkpoint, or too many leaves at once."""

    http_status = 400
    title = "Bad log request"


class MetadataError(InputError):
    """Registration metadata that the receipt format does not allow."""

    title = "Invalid metadata"


class ReceiptFormatError(InputError):
    """A receipt that is not a well-formed docanchor-receipt/1 document."""

    title = "Malformed receipt"


class PdfError(InputError):
    """A file that cannot be stamped or read as a PDF: not a PDF, damaged, or encrypted."""

    title = "Unusable PDF"


class PayloadTooLargeError(InputError):
    http_status = 413
    title = "Payload too large"


class ConfigError(DocAnchorError):
    """A configuration value is missing or invalid."""

    exit_code = EXIT_ENVIRONMENT
    http_status = 500
    title = "Configuration error"


# --- checks that failed (exit 1) ---------------------------------------------


class VerificationError(DocAnchorError):
    """A proof, a receipt or a document did not verify."""

    exit_code = EXIT_CHECK_FAILED
    http_status = 422
    title = "Verification failed"


class ProofError(VerificationError):
    """An inclusion proof is malformed or does not match its root."""


class RootMismatchError(ProofError):
    """The root computed from a proof differs from the expected root."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(
            f"the proof leads to root {calculated.hex()}, not to the expected root {expected.hex()}"
        )
        self.expected = expected
        self.calculated = calculated


class NotFoundError(DocAnchorError):
    exit_code = EXIT_CHECK_FAILED
    http_status = 404
    title = "Not found"


class ConflictError(DocAnchorError):
    exit_code = EXIT_CHECK_FAILED
    http_status = 409
    title = "Conflict"


class NotAnchoredError(ConflictError):
    """The document is registered but its batch is not anchored yet (pending or sealed)."""

    title = "Not anchored yet"


# --- access (HTTP 401/403) ---------------------------------------------------


class AuthenticationError(DocAnchorError):
    exit_code = EXIT_USAGE
    http_status = 401
    title = "Authentication required"


class PermissionDeniedError(DocAnchorError):
    exit_code = EXIT_USAGE
    http_status = 403
    title = "Forbidden"


# --- the world outside (exit 3, HTTP 502/503) --------------------------------


class ChainError(DocAnchorError):
    """The Ethereum node failed, or the chain is not in the expected state."""

    exit_code = EXIT_ENVIRONMENT
    http_status = 502
    title = "Blockchain node error"


class NodeUnavailableError(ChainError):
    http_status = 503
    title = "Blockchain node unreachable"


class ChainIdentityError(ChainError):
    """The node serves another chain than the recorded deployment's."""

    http_status = 503
    title = "Node on another chain"


class ContractRevertError(ChainError):
    """The contract refused a call; ``error_name`` is the decoded custom error."""

    http_status = 409
    title = "Contract refused the call"

    def __init__(self, message: str, error_name: str | None = None) -> None:
        super().__init__(message)
        self.error_name = error_name


class FeeCapError(ChainError):
    """The base fee is above ``DOCANCHOR_MAX_FEE_GWEI``: nothing is sent until it falls."""

    http_status = 503
    title = "Base fee above the fee cap"


class NonceTooLowError(ChainError):
    """The node refused a transaction whose nonce another transaction already used."""

    title = "Nonce already used"


class UnderpricedError(ChainError):
    """The node refused a transaction for its fees (a replacement too cheap, a cap under
    the base fee)."""

    title = "Transaction underpriced"


class ChainResetError(ChainError):
    """The chain no longer holds what was recorded (no contract code, unknown block)."""

    title = "Chain does not hold the recorded anchor"


class StoreError(DocAnchorError):
    exit_code = EXIT_ENVIRONMENT
    http_status = 503
    title = "Database error"


class RetryLaterError(StoreError):
    """The database gave up on a transaction that may succeed when tried again
    (a deadlock or a serialization failure that retries did not overcome).

    Nothing was stored. HTTP 503 with ``Retry-After: retry_after``.
    """

    title = "Database busy"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
