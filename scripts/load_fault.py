"""Load-and-fault run: register many documents through the HTTP API while faults happen.

What it does, on this machine only (every address is on loopback):

1. starts an Anvil devnet (state persisted in a temporary data dir), deploys
   DocumentAnchor, and creates a fresh PostgreSQL database reached through a
   small TCP proxy that this script can make refuse connections;
2. runs ``docanchor serve --workers 2`` with the anchoring loop on;
3. lets CLIENTS threads register DOCUMENTS documents: single registrations,
   bulk registrations, repeats of earlier ones, and bulk bodies that hold the
   same digests as another client's in another order, all at once;
4. meanwhile SIGKILLs one API worker, restarts the devnet once (same state
   file) and makes PostgreSQL refuse connections for a few seconds;
5. then waits until every batch is confirmed and checks: every registration
   that got a 2xx answer has a receipt that verifies on chain (receipt-v1
   steps 1-7, done with the project's own verification code against the
   node), no root was anchored twice, no 5xx other than 503 (and only
   during the outage or a restart), and ``docanchor audit`` passes.

It prints a table; docs/reliability.md keeps the latest one. Not a test: it
takes minutes and its numbers depend on the machine.

    scripts/load_fault [--documents 100000] [--clients 16]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
DOCANCHOR = str(REPO / ".venv" / "bin" / "docanchor")
ENTITY = "20131370998"
BULK_SIZE = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, deadline: float, what: str) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    raise SystemExit(f"load_fault: {what} did not happen within {deadline:.0f} s")


# --- a TCP proxy in front of PostgreSQL that can refuse ----------------------------


class SwitchableProxy:
    """Forwards 127.0.0.1:port to the database; ``outage()`` cuts and refuses connections."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._stop = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> SwitchableProxy:
        self._open_listener()
        self._thread.start()
        return self

    def _open_listener(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        listener.settimeout(0.2)
        self._listener = listener

    def _serve(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        a.setblocking(False)
        b.setblocking(False)
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.5):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    key.data.setblocking(True)
                    key.data.sendall(data)
                    key.data.setblocking(False)
        except OSError:
            return
        finally:
            sel.close()
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def outage(self, seconds: float) -> None:
        """Refuse new connections and cut the open ones for ``seconds``."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
        time.sleep(seconds)
        self._open_listener()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()


# --- the processes -------------------------------------------------------------------


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    devnet_port: int
    api_port: int
    devnet: subprocess.Popen[bytes] | None = None
    serve: subprocess.Popen[bytes] | None = None
    logs: list[Any] = field(default_factory=list)

    def _log(self, name: str) -> Any:
        handle = (self.data_dir / f"{name}.log").open("ab")
        self.logs.append(handle)
        return handle

    def start_devnet(self) -> None:
        self.devnet = subprocess.Popen(
            [DOCANCHOR, "devnet", "--port", str(self.devnet_port), "--silent"],
            env=self.env,
            stdout=self._log("devnet"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: rpc(self.env["DOCANCHOR_RPC_URL"], "eth_chainId"), 60, "the devnet")

    def stop_devnet(self) -> None:
        if self.devnet is not None and self.devnet.poll() is None:
            os.killpg(self.devnet.pid, signal.SIGINT)
            try:
                self.devnet.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.devnet.pid, signal.SIGKILL)
                self.devnet.wait()

    def start_serve(self) -> None:
        self.serve = subprocess.Popen(
            [DOCANCHOR, "serve", "--workers", "2", "--port", str(self.api_port)],
            env=self.env,
            stdout=self._log("serve"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: get(self.api_port, "/healthz")[0] == 200, 60, "the API")

    def worker_pids(self) -> list[int]:
        assert self.serve is not None
        out = subprocess.run(
            ["pgrep", "-P", str(self.serve.pid)], capture_output=True, text=True, check=False
        )
        pids = [int(p) for p in out.stdout.split()]
        # The supervisor also runs multiprocessing's resource tracker: keep the workers.
        return [
            p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()
        ]

    def stop(self) -> None:
        if self.serve is not None and self.serve.poll() is None:
            os.killpg(self.serve.pid, signal.SIGTERM)
            try:
                self.serve.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.serve.pid, signal.SIGKILL)
        self.stop_devnet()
        for handle in self.logs:
            handle.close()


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    import urllib.request

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as answer:
        return json.load(answer)["result"]


def get(port: int, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, (json.loads(raw) if raw else None)
    finally:
        conn.close()


# --- the load ----------------------------------------------------------------------------


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    no_answer: int = 0
    errors_5xx: list[str] = field(default_factory=list)
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def record(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.by_kind[kind] += 1
            self.latencies.append(seconds)


class Client:
    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            self.conn.request("POST", path, body, self.headers)
            answer = self.conn.getresponse()
            return answer.status, answer.read(), dict(answer.getheaders())
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise


def work_items(documents: int, seed: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """("single"|"bulk"|"repeat"|"shuffled", registrations) items covering ``documents`` digests."""
    rng = random.Random(seed)
    made: list[dict[str, Any]] = []
    n = 0
    while n < documents:
        roll = rng.random()
        if roll < 0.25 or documents - n < BULK_SIZE:
            doc = _doc(n)
            n += 1
            made.append(doc)
            yield "single", [doc]
        elif roll < 0.85:
            docs = [_doc(n + i) for i in range(BULK_SIZE)]
            n += BULK_SIZE
            made.extend(docs)
            yield "bulk", docs
            # The same digests again, in another order, right behind: another
            # client sends them while the first body is still being stored.
            again = docs[:]
            rng.shuffle(again)
            yield "shuffled", again
        elif made:
            yield "repeat", [made[rng.randrange(len(made))]]


def _doc(i: int) -> dict[str, Any]:
    digest = secrets.token_hex(32)
    return {
        "sha256": digest,
        "metadata": {
            "reference": f"LF-{i // 3:07d}",
            "type": ("purchase_order", "contract", "invoice")[i % 3],
            "supplier_ruc": "20601234567",
        },
    }


def run_client(
    client: Client,
    queue: list[tuple[str, list[dict[str, Any]]]],
    qlock: threading.Lock,
    tally: Tally,
    phase: dict[str, str],
) -> None:
    while True:
        with qlock:
            if not queue:
                return
            kind, docs = queue.pop()
        for attempt in range(200):
            body = json.dumps(
                {"documents": docs} if kind in ("bulk", "shuffled") else docs[0]
            ).encode()
            path = "/v1/documents/bulk" if kind in ("bulk", "shuffled") else "/v1/documents"
            started = time.perf_counter()
            try:
                status, raw, headers = client.post(path, body)
            except (OSError, http.client.HTTPException):
                with tally.lock:
                    tally.no_answer += 1
                time.sleep(min(2.0, 0.1 * (attempt + 1)))
                continue
            tally.record(kind, status, time.perf_counter() - started)
            if 200 <= status < 300:
                with tally.lock:
                    for doc in docs:
                        tally.acknowledged[doc["sha256"]] = doc
                break
            if status >= 500:
                with tally.lock:
                    tally.errors_5xx.append(f"{status} during {phase['now']}: {raw[:200]!r}")
                wait = float(headers.get("retry-after", headers.get("Retry-After", "1")))
                time.sleep(min(5.0, wait))
                continue
            raise SystemExit(f"load_fault: {path} answered {status}: {raw[:300]!r}")


# --- checks ---------------------------------------------------------------------------


def confirmed_in_database(db_url: str, tally: Tally) -> tuple[int, list[str]]:
    """How many acknowledged registrations are stored in a confirmed batch, and which are not.

    One query over the whole database: each acknowledged (digest, metadata) must be
    a stored registration whose batch is confirmed.
    """
    from docanchor.hashing import metadata_digest

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT d.sha256, d.metadata_sha256 FROM document d "
                "JOIN batch_member m ON m.document_id = d.id "
                "JOIN batch b ON b.id = m.batch_id WHERE b.status = 'confirmed'"
            )
        )
        confirmed = {(bytes(a), bytes(b)) for a, b in rows}
    engine.dispose()
    missing = []
    for sha, doc in tally.acknowledged.items():
        meta = {**doc["metadata"], "entity_ruc": ENTITY}
        if (bytes.fromhex(sha), metadata_digest(meta)) not in confirmed:
            missing.append(sha)
    return len(tally.acknowledged) - len(missing), missing


def verify_all(
    stack: Stack, tally: Tally, clients: int, sample: int
) -> tuple[int, int, Counter[str]]:
    """Fetch the receipts of ``sample`` acknowledged documents (at random) and verify
    them on chain, steps 1-7 and the service signature."""
    from docanchor.chain import ChainClient
    from docanchor.config import load_settings
    from docanchor.onchain import OnChainRecord
    from docanchor.receipt import evaluate_receipt, parse_receipt
    from docanchor.wiring import verifier_trust

    reader = ChainClient(rpc_url=stack.env["DOCANCHOR_RPC_URL"])
    head = reader.head_number()
    # A verifier that trusts what this service publishes: its deployment and its key.
    settings = load_settings(data_dir=stack.data_dir, rpc_url=stack.env["DOCANCHOR_RPC_URL"])
    trust = verifier_trust(settings, reader.chain_id)
    records: dict[tuple[str, bytes], Any] = {}
    hashes: dict[int, str | None] = {}
    rlock = threading.Lock()
    digests = random.Random(7).sample(
        list(tally.acknowledged), min(sample, len(tally.acknowledged))
    )
    checked = len(digests)
    outcomes: Counter[str] = Counter()
    valid = 0

    def check(sha: str) -> str:
        status, answer = post_json(stack.api_port, "/v1/verify", {"sha256": sha})
        if status != 200 or not answer.get("receipts"):
            return f"no receipt ({status})"
        for raw in answer["receipts"]:
            receipt = parse_receipt(raw)
            a = receipt.anchor
            if a is None or receipt.batch is None:
                return f"receipt {receipt.status.value}"
            key = (a.contract, receipt.batch.root)
            with rlock:
                if key not in records:
                    records[key] = reader.get_anchor_at(a.contract, receipt.batch.root)
                if a.block_number not in hashes:
                    hashes[a.block_number] = reader.block_hash(a.block_number)
                info, block_hash = records[key], hashes[a.block_number]
            record = None
            if info is not None:
                record = OnChainRecord(
                    info.seq, info.tree_size, info.timestamp, info.block_number, info.anchorer
                )
            result = evaluate_receipt(
                receipt,
                document_sha256=bytes.fromhex(sha),
                node_chain_id=reader.chain_id,
                record=record,
                block_hash=block_hash,
                head_number=head,
                required_confirmations=1,
                trust=trust,
                receipt_json=raw,
            )
            if not result.valid:
                failure = result.first_failure
                return f"step {failure.step if failure else '?'} failed"
            if not any(c.name == "signature" and c.ok and not c.skipped for c in result.checks):
                return "signature not checked"
        return "valid"

    lock = threading.Lock()

    def worker() -> None:
        nonlocal valid
        while True:
            with lock:
                if not digests:
                    return
                sha = digests.pop()
            outcome = check(sha)
            with lock:
                outcomes[outcome] += 1
                if outcome == "valid":
                    valid += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return valid, checked, outcomes


def post_json(port: int, path: str, body: Any) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def roots_anchored_twice(stack: Stack) -> tuple[int, int]:
    from docanchor.chain import ChainClient

    reader = ChainClient(rpc_url=stack.env["DOCANCHOR_RPC_URL"])
    deployment = json.loads((stack.data_dir / "deployment.json").read_text())
    reader.use_contract(deployment["address"])
    events = reader.scan_anchored(0)
    roots = Counter(e.root for e in events)
    return len(events), sum(1 for c in roots.values() if c > 1)


# --- main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DOCANCHOR_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL server where this run may create and drop a database",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--sample", type=int, default=2000, help="receipts fetched and verified on chain"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the data dir and logs in this folder"
    )
    args = parser.parse_args()

    admin = sa.make_url(args.database_url)
    db_name = f"docanchor_load_{secrets.token_hex(4)}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db_name}"'))
    proxy = SwitchableProxy((admin.host or "127.0.0.1", admin.port or 5432)).start()
    db_url = admin.set(host="127.0.0.1", port=proxy.port, database=db_name)

    with tempfile.TemporaryDirectory(prefix="docanchor-load-") as tmp:
        data_dir = Path(tmp)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            data_dir = args.keep
        devnet_port, api_port = free_port(), free_port()
        env = dict(os.environ)
        env.update(
            DOCANCHOR_DATA_DIR=str(data_dir),
            DOCANCHOR_RPC_URL=f"http://127.0.0.1:{devnet_port}",
            DOCANCHOR_DATABASE_URL=db_url.render_as_string(hide_password=False),
            DOCANCHOR_ANCHOR_INTERVAL="2",
            DOCANCHOR_LOG_JSON="true",
        )
        stack = Stack(data_dir, env, devnet_port, api_port)
        try:
            return run(args, stack, proxy)
        finally:
            stack.stop()
            proxy.stop()
            with engine.connect() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name"
                    ),
                    {"name": db_name},
                )
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}"'))
            engine.dispose()


def run(args: argparse.Namespace, stack: Stack, proxy: SwitchableProxy) -> int:
    stack.start_devnet()
    subprocess.run([DOCANCHOR, "deploy"], env=stack.env, check=True, capture_output=True)
    key = subprocess.run(
        [DOCANCHOR, "keys", "create", "--role", "entity", "--entity", ENTITY],
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stack.start_serve()

    items = list(work_items(args.documents, args.seed))
    # Pop from the end: reverse so that a bulk body and its shuffled twin go out together.
    queue = items[::-1]
    total_items = len(queue)
    qlock = threading.Lock()
    tally = Tally()
    phase = {"now": "load"}
    faults: list[tuple[str, str]] = []

    def progress() -> float:
        with qlock:
            return 1 - len(queue) / total_items

    def fault_plan() -> None:
        def at(fraction: float) -> bool:
            while progress() < fraction:
                if not queue:
                    return False
                time.sleep(0.2)
            return True

        if at(0.2):
            pids = stack.worker_pids()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                faults.append(("SIGKILL of an API worker", f"pid {pids[0]} of {len(pids)}"))
        if at(0.4):
            phase["now"] = "devnet restart"
            stack.stop_devnet()
            time.sleep(2)
            stack.start_devnet()
            phase["now"] = "load"
            faults.append(("devnet restarted (same state file)", "down about 3 s"))
        if at(0.6):
            phase["now"] = "database outage"
            proxy.outage(5.0)
            phase["now"] = "load"
            faults.append(("PostgreSQL refused connections", "5 s, open connections cut"))

    started = time.monotonic()
    fault_thread = threading.Thread(target=fault_plan, daemon=True)
    fault_thread.start()
    threads = [
        threading.Thread(
            target=run_client, args=(Client(stack.api_port, key), queue, qlock, tally, phase)
        )
        for _ in range(args.clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load_seconds = time.monotonic() - started
    fault_thread.join(timeout=60)

    # Seal what is left and wait for every batch to be confirmed.
    client = Client(stack.api_port, key)
    client.post("/v1/batches", b"")

    def all_confirmed() -> bool:
        status, answer = get(stack.api_port, "/v1/batches?limit=1000")
        pending = subprocess.run(
            [DOCANCHOR, "status", "--json"],
            env=stack.env,
            capture_output=True,
            text=True,
            check=False,
        )
        counts = json.loads(pending.stdout)["documents"] if pending.returncode == 0 else {}
        return (
            status == 200
            and all(b["status"] == "confirmed" for b in answer["batches"])
            and counts.get("pending", 1) == 0
            and counts.get("sealed", 1) == 0
            and counts.get("anchored", 1) == 0
        )

    wait_until(all_confirmed, 600, "confirmation of every batch")
    stored, missing = confirmed_in_database(stack.env["DOCANCHOR_DATABASE_URL"], tally)
    acknowledged = len(tally.acknowledged)
    valid, sampled, outcomes = verify_all(stack, tally, args.clients, args.sample)
    events, twice = roots_anchored_twice(stack)
    audit = subprocess.run(
        [DOCANCHOR, "audit", "--json"], env=stack.env, capture_output=True, text=True, check=False
    )
    other_5xx = [e for e in tally.errors_5xx if not e.startswith("503")]
    lost = len(missing)
    latencies = sorted(tally.latencies)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| documents registered (2xx) | {acknowledged:,} |")
    print(f"| requests | {sum(tally.statuses.values()):,} ({dict(tally.by_kind)}) |")
    print(f"| clients | {args.clients} |")
    print(f"| load duration | {load_seconds:.1f} s |")
    print(f"| documents/s during the load | {acknowledged / load_seconds:,.0f} |")
    print(f"| request latency p50 / p99 | {pct(0.5):.0f} ms / {pct(0.99):.0f} ms |")
    print(f"| answers by status | {dict(sorted(tally.statuses.items()))} |")
    print(f"| requests with no answer (connection cut), retried | {tally.no_answer} |")
    for name, detail in faults:
        print(f"| fault: {name} | {detail} |")
    print(f"| 5xx other than 503 | {len(other_5xx)} |")
    print(f"| Anchored events / roots anchored twice | {events} / {twice} |")
    print(f"| 2xx registrations stored in a confirmed batch | {stored:,} of {acknowledged:,} |")
    print(f"| receipts verified on chain (steps 1-8), at random | {valid:,} of {sampled:,} |")
    print(f"| receipt outcomes | {dict(outcomes)} |")
    print(f"| docanchor audit | exit {audit.returncode} |")
    print(f"| registrations lost | {lost} |")
    for line in other_5xx[:10]:
        print(f"  {line}", file=sys.stderr)
    ok = lost == 0 and valid == sampled and twice == 0 and not other_5xx and audit.returncode == 0
    print("\nresult:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
