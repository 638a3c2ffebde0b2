"""The receipt model, ``docanchor-receipt/1``: parse, emit, verify (spec sections 5 and 6).

A receipt is what a supplier keeps next to a document. This package turns its
JSON into frozen dataclasses (bytes inside, hex only at the JSON edge), turns
them back into exactly the spec's JSON forms, and checks a receipt step by
step against values the caller has fetched.

Pure core, consensus-critical: standard library, ``rfc8785``,
:mod:`docanchor.hashing`, :mod:`docanchor.merkle`, :mod:`docanchor.onchain`,
:mod:`docanchor.vocabulary` and :mod:`docanchor.errors` only. It never
imports web3, sqlmodel or fastapi, never reads the environment and never
performs I/O: the chain adapter fetches the on-chain record, the block hash
and the head number, and the functions here compare.
Every change to parsing or verification comes with new test vectors.

The package: ``model`` (the dataclasses and their JSON), ``parse`` (strict
parsing), ``trust`` (trusted deployments and keys) and ``verify`` (the steps
of spec section 6).
"""

from __future__ import annotations

from docanchor.onchain import OnChainRecord
from docanchor.receipt.model import (
    RECEIPT_VERSION,
    SIGNATURE_MEMBER,
    AnchorPart,
    BatchPart,
    DocumentPart,
    ProofPart,
    Receipt,
    ReceiptStatus,
    inclusion_path_length,
)
from docanchor.receipt.parse import (
    ParsedReceipt,
    loads_receipt_text,
    parse_receipt,
    parse_receipt_json,
    parse_receipt_text,
)
from docanchor.receipt.trust import (
    SignatureVerifier,
    TrustedDeployment,
    TrustPolicy,
    parse_trusted_contracts,
    trust_policy,
)
from docanchor.receipt.verify import (
    STEP_BLOCK_HASH,
    STEP_CHAIN_RECORD,
    STEP_CONFIRMATIONS,
    STEP_DOCUMENT,
    STEP_METADATA,
    STEP_PROOF,
    STEP_SIGNATURE,
    CheckResult,
    ReceiptVerification,
    check_block_hash,
    check_chain_record,
    check_confirmations,
    check_document,
    check_leaf_and_proof,
    check_metadata,
    check_signature,
    count_confirmations,
    evaluate_receipt,
    leaf_hash_of,
    signing_payload,
    untrusted_deployment_detail,
    verify_receipt_offline,
    verify_receipt_proof,
)

__all__ = [
    "RECEIPT_VERSION",
    "SIGNATURE_MEMBER",
    "STEP_BLOCK_HASH",
    "STEP_CHAIN_RECORD",
    "STEP_CONFIRMATIONS",
    "STEP_DOCUMENT",
    "STEP_METADATA",
    "STEP_PROOF",
    "STEP_SIGNATURE",
    "AnchorPart",
    "BatchPart",
    "CheckResult",
    "DocumentPart",
    "OnChainRecord",
    "ParsedReceipt",
    "ProofPart",
    "Receipt",
    "ReceiptStatus",
    "ReceiptVerification",
    "SignatureVerifier",
    "TrustPolicy",
    "TrustedDeployment",
    "check_block_hash",
    "check_chain_record",
    "check_confirmations",
    "check_document",
    "check_leaf_and_proof",
    "check_metadata",
    "check_signature",
    "count_confirmations",
    "evaluate_receipt",
    "inclusion_path_length",
    "leaf_hash_of",
    "loads_receipt_text",
    "parse_receipt",
    "parse_receipt_json",
    "parse_receipt_text",
    "parse_trusted_contracts",
    "signing_payload",
    "trust_policy",
    "untrusted_deployment_detail",
    "verify_receipt_offline",
    "verify_receipt_proof",
]
