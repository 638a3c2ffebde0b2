"""Upgrading a version 1 deployment and database to the log, through the CLI.

The old state is made as version 1 made it: the version 1 contract
(DocumentAnchorV1.json) deployed and anchored with plain web3, the database at
schema revision 0001 with hex text digests and a batch tree of its own. After
the upgrade nothing registered is lost, the old receipt still verifies against
the old contract, and new registrations go into the log on a version 2
contract.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from docanchor import hashing
from docanchor.merkle import MerkleTree
from docanchor.migrations import upgrade
from tests.support.anvil import FIRST_DEV_ADDRESS as DEV_ADDRESS
from tests.support.anvil import AnvilNode
from tests.support.clihelp import Cli

ENTITY = "20131370998"


def _deploy_version1(rpc_url: str) -> tuple[object, dict[str, object]]:
    from web3 import Web3

    from docanchor.contracts import load_artifact

    w3 = Web3(Web3.HTTPProvider(rpc_url))
    artifact = load_artifact("DocumentAnchorV1")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor().transact({"from": DEV_ADDRESS})
    mined = w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert mined["status"] == 1
    contract = w3.eth.contract(address=mined["contractAddress"], abi=artifact["abi"])
    record = {
        "address": mined["contractAddress"],
        "chain_id": 31337,
        "tx_hash": "0x" + bytes(tx).hex(),
        "block_number": mined["blockNumber"],
    }
    return (w3, contract), record


def test_a_version1_deployment_and_database_upgrade_to_the_log(
    tmp_path: Path, database_url: str, anvil: AnvilNode
) -> None:
    (w3, contract), record = _deploy_version1(anvil.rpc_url)  # type: ignore[misc]
    files = []
    for n in range(4):
        path = tmp_path / f"orden-{n}.pdf"
        path.write_bytes(f"orden de compra {n} {tmp_path.name}".encode())
        files.append(path)
    meta = hashing.canonical_metadata({"entity_ruc": ENTITY})
    meta_sha = hashing.sha256(meta).hex()
    salts = [hashlib.sha256(f"salt {n}".encode()).hexdigest() for n in range(4)]
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    leaves = [hashing.leaf_hash(bytes.fromhex(salts[n] + digests[n] + meta_sha)) for n in range(3)]
    root = MerkleTree(leaves).root
    tx = contract.functions.anchor(root, 3).transact({"from": DEV_ADDRESS})  # type: ignore[attr-defined]
    mined = w3.eth.wait_for_transaction_receipt(tx, timeout=30)  # type: ignore[attr-defined]
    seq, size, timestamp, block_number, anchorer = contract.functions.getAnchor(root).call()  # type: ignore[attr-defined]
    assert size == 3 and block_number == mined["blockNumber"]

    # The version 1 database: three documents in that anchored batch, one pending.
    engine = sa.create_engine(database_url)
    upgrade(engine, "0001")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO entity (ruc, created_at) VALUES (:r, :t)"), {"r": ENTITY, "t": now}
        )
        ids = [
            conn.execute(
                sa.text(
                    "INSERT INTO document (sha256, salt, metadata_json, metadata_sha256, "
                    "entity_ruc, created_at) VALUES (:s, :salt, :m, :ms, :e, :t) RETURNING id"
                ),
                {
                    "s": digests[n],
                    "salt": salts[n],
                    "m": meta.decode(),
                    "ms": meta_sha,
                    "e": ENTITY,
                    "t": now,
                },
            ).scalar_one()
            for n in range(4)
        ]
        batch_id = conn.execute(
            sa.text(
                "INSERT INTO batch (root, size, status, sealed_at, anchor_attempts, chain_id, "
                "contract, seq, tx_hash, block_number, block_hash, anchor_timestamp, anchorer, "
                "confirmed_at) VALUES (:root, 3, 'confirmed', :t, 1, 31337, :c, :seq, :tx, "
                ":block, :bh, :ts, :who, :t) RETURNING id"
            ),
            {
                "root": root.hex(),
                "t": now,
                "c": record["address"],
                "seq": seq,
                "tx": "0x" + bytes(tx).hex(),
                "block": block_number,
                "bh": "0x" + bytes(mined["blockHash"]).hex(),
                "ts": timestamp,
                "who": anchorer,
            },
        ).scalar_one()
        for n in range(3):
            conn.execute(
                sa.text(
                    "INSERT INTO batch_member (document_id, batch_id, leaf_index) "
                    "VALUES (:d, :b, :i)"
                ),
                {"d": ids[n], "b": batch_id, "i": n},
            )
        conn.execute(
            sa.text("INSERT INTO pending_document (document_id) VALUES (:d)"), {"d": ids[3]}
        )
    engine.dispose()
    cli = Cli(data_dir=tmp_path / "data", database_url=database_url, rpc_url=anvil.rpc_url)
    cli.data_dir.mkdir()
    (cli.data_dir / "deployment.json").write_text(json.dumps(record))

    # The new version opens (and migrates) the database: the old receipt is as it was.
    old_receipt = tmp_path / "old.receipt.json"
    old_receipt.write_text(cli.ok("receipt", str(files[1])).stdout)
    old = json.loads(old_receipt.read_text())
    assert old["proof"]["leaf_index"] == 1 and old["proof"]["tree_size"] == 3
    assert old["batch"]["root"] == root.hex() and old["anchor"]["contract"] == record["address"]
    cli.ok("verify", "--receipt", str(old_receipt), str(files[1]))

    # deploy finds version 1, deploys version 2 and keeps the old one under "previous".
    deployed = cli.ok("deploy", "--json").json()
    assert deployed["version"] == 2 and deployed["address"] != record["address"]
    kept = json.loads((cli.data_dir / "deployment.json").read_text())
    assert kept["version"] == 2 and kept["address"] == deployed["address"]
    assert [(p["address"], p["version"]) for p in kept["previous"]] == [(record["address"], 1)]
    again = cli.ok("deploy", "--json").json()
    assert again["address"] == deployed["address"]  # the version 2 record is kept

    # The pending document and a new one become the log's first checkpoint.
    new_file = tmp_path / "contrato.pdf"
    new_file.write_bytes(b"contrato nuevo")
    cli.ok("submit", str(new_file), "--entity", ENTITY)
    cli.ok("anchor")
    status = cli.ok("status", "--json").json()
    contracts = sorted((b["id"], b["contract"], b["size"], b["status"]) for b in status["batches"])
    assert contracts == [
        (batch_id, record["address"], 3, "confirmed"),
        (batch_id + 1, deployed["address"], 2, "confirmed"),
    ]
    for path, index in ((files[3], 0), (new_file, 1)):
        receipt = json.loads(cli.ok("receipt", str(path)).stdout)
        assert receipt["proof"]["leaf_index"] == index and receipt["proof"]["tree_size"] == 2
        assert receipt["anchor"]["contract"] == deployed["address"]
        saved = tmp_path / f"{path.stem}.receipt.json"
        saved.write_text(json.dumps(receipt))
        cli.ok("verify", "--receipt", str(saved), str(path))

    # Every receipt issued before the upgrade stays valid; the log's history checks out.
    cli.ok("verify", "--receipt", str(old_receipt), str(files[1]))
    assert cli.ok("log", "verify", "--json").json()["ok"] is True
    assert cli.ok("audit", "--json").json()["ok"] is True
