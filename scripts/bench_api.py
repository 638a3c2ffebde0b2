"""Benchmark of the HTTP API on loopback: verify by digest, single-file and bulk registration.

Verify is measured against a baseline in the same run, on the same cores and
with the same load: a minimal FastAPI endpoint that looks a row up by key in
SQLite (``MINIMAL_APP``); the table ends with the ratio and the targets.

Starts ``docanchor serve`` (uvicorn) over a fresh SQLite database holding a
few thousand registered documents, sealed into a batch (no chain is needed:
the node URL points at a closed port, so look-ups answer from the database),
then drives it with keep-alive HTTP/1.1 clients and prints a table. Every
request goes to 127.0.0.1; counts and times are bounded.

Verify and single registration are driven by ``wrk`` (a C load generator,
with ``scripts/bench_api_wrk.lua`` for the request bodies) when it is on the
PATH, else by small asyncio clients in separate Python processes; bulk
registration always by the Python client (a few large requests). The
clients run on the same machine as the server and take their share of its
cores: the table says which client drove each row and how many cores there
were.

Usage: scripts/bench_api [--documents N] [--workers W] [--clients C] [--client wrk] ...
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
WRK_SCRIPT = REPO / "scripts" / "bench_api_wrk.lua"
DOCANCHOR = str(Path(sys.executable).with_name("docanchor"))
HOST = "127.0.0.1"


# --- a small keep-alive HTTP/1.1 client (the load generator must stay cheap) -------


def _request(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    port: int,
    requests: list[bytes],
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for raw in requests:
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            writer.write(raw)
            status, _ = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def _client_process(
    port: int, batches: list[list[bytes]], max_seconds: float
) -> tuple[list[float], dict[int, int], float]:
    """One load process: one connection per request list, all at once."""

    async def run() -> tuple[list[float], dict[int, int], float]:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        deadline = time.monotonic() + max_seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(_connection(port, reqs, deadline, latencies, statuses) for reqs in batches)
        )
        return latencies, statuses, time.perf_counter() - started

    return asyncio.run(run())


def load(
    port: int,
    make: Callable[[int], bytes],
    *,
    total: int,
    clients: int,
    procs: int,
    max_seconds: float,
) -> dict[str, Any]:
    """``total`` requests over ``clients`` keep-alive connections in ``procs`` processes."""
    per_client = [
        [make(c * (total // clients) + i) for i in range(total // clients)] for c in range(clients)
    ]
    groups = [per_client[p::procs] for p in range(procs)]
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with ctx.Pool(procs) as pool:
        results = pool.starmap(_client_process, [(port, g, max_seconds) for g in groups])
    wall = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r[0])
    statuses: dict[int, int] = {}
    for r in results:
        for k, v in r[1].items():
            statuses[k] = statuses.get(k, 0) + v
    busy = max(r[2] for r in results)
    return {
        "requests": len(latencies),
        "seconds": busy,
        "wall": wall,
        "rps": len(latencies) / busy,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "mean_ms": 1000 * statistics.fmean(latencies),
        "statuses": statuses,
    }


def wrk_load(
    port: int, args: list[str], *, clients: int, threads: int, seconds: float
) -> dict[str, Any]:
    """``clients`` keep-alive connections from ``wrk`` for ``seconds`` (closed loop)."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    command = [
        wrk,
        f"-t{threads}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        f"http://{HOST}:{port}",
        "--",
        *args,
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("WRKJSON ") :])
    requests = int(data["requests"])
    busy = data["duration_us"] / 1e6
    failed = data["non_2xx_3xx"]
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    statuses = {"2xx": requests - failed}
    if failed:
        statuses["other"] = failed
    if errors:
        statuses["socket errors"] = errors
    return {
        "requests": requests,
        "seconds": busy,
        "wall": busy,
        "rps": requests / busy,
        "p50_ms": data["p50_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "mean_ms": data["mean_us"] / 1000,
        "statuses": statuses,
    }


# --- the server -----------------------------------------------------------------------


def seed(data_dir: Path, documents: int) -> tuple[list[str], str]:
    """Register ``documents`` documents (two versions of every tenth reference), seal them."""
    sys.path.insert(0, str(REPO / "src"))
    from docanchor.config import Settings
    from docanchor.keys import create_key
    from docanchor.wiring import build_service

    settings = Settings(data_dir=data_dir)
    service = build_service(settings)
    digests = [secrets.token_bytes(32) for _ in range(documents)]
    items = [
        service.prepare_registration(
            d,
            {"reference": f"OC-2025-{i // 2 if i % 10 < 2 else i:06d}", "type": "purchase_order"},
            entity_ruc="20131370998",
        )
        for i, d in enumerate(digests)
    ]
    service.register_many(items)
    service.seal_all()
    key = create_key(service.store, role="entity", entity_ruc="20131370998").secret
    service.store.close()
    return [d.hex() for d in digests], key


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCANCHOR_")}
    env.update(
        DOCANCHOR_DATA_DIR=str(data_dir),
        DOCANCHOR_RPC_URL=f"http://{HOST}:{free_port()}",  # nothing listens: no chain
        DOCANCHOR_ANCHOR_INTERVAL="86400",
        DOCANCHOR_LOG_JSON="true",
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [DOCANCHOR, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://{HOST}:{port}/v1/keys", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


# The baseline: a minimal FastAPI endpoint over SQLite, in the form FastAPI's
# documentation gives for a blocking database driver (a plain ``def`` run in the
# thread pool, a pydantic body, a dict answered as JSON). It looks a row up by
# key; nothing else (no logs, no metrics, no middleware).
MINIMAL_APP = """
import os, sqlite3, threading
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()
_local = threading.local()


def db():
    if not hasattr(_local, "conn"):
        _local.conn = sqlite3.connect(os.environ["MINIMAL_DB"])
    return _local.conn


class Query(BaseModel):
    sha256: str


@app.post("/v1/verify")
def verify(query: Query) -> dict:
    row = db().execute(
        "SELECT id, status FROM document WHERE sha256 = ?", (query.sha256,)
    ).fetchone()
    if row is None:
        return {"status": "not_found", "sha256": query.sha256}
    return {"status": row[1], "sha256": query.sha256, "id": row[0]}


@app.get("/ready")
def ready() -> dict:
    return {"ok": True}
"""


def start_minimal(
    folder: Path, digests: list[str], port: int, workers: int
) -> subprocess.Popen[bytes]:
    """The baseline app (``MINIMAL_APP``) under uvicorn with the server options of
    ``docanchor serve`` (httptools, uvloop, the same number of workers)."""
    import sqlite3

    database = folder / "minimal.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute(
            "CREATE TABLE document (id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE, status TEXT)"
        )
        conn.executemany(
            "INSERT INTO document (sha256, status) VALUES (?, 'sealed')", [(d,) for d in digests]
        )
    (folder / "minimal_app.py").write_text(MINIMAL_APP)
    env = {**os.environ, "MINIMAL_DB": str(database), "PYTHONPATH": str(folder)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "minimal_app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the minimal app exited")
        try:
            if httpx.get(f"http://{HOST}:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the minimal app did not start within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def multipart(content: bytes, metadata: dict[str, Any]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'.encode()
        + json.dumps(metadata).encode()
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="oc.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="Load generator for verify and single registration (auto: wrk when installed).",
    )
    parser.add_argument("--client-procs", type=int, default=2, help="Python client processes.")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of a wrk run.")
    parser.add_argument("--verify-requests", type=int, default=20_000, help="Python client.")
    parser.add_argument("--register-requests", type=int, default=4_000, help="Python client.")
    parser.add_argument("--bulk-requests", type=int, default=10)
    parser.add_argument("--bulk-size", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if use_wrk and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), or use --client python")
    python_client = f"python ({args.client_procs} procs)"
    driver = f"wrk ({args.wrk_threads} thread)" if use_wrk else python_client

    load_before = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="docanchor-bench-"))
    try:
        data_dir = folder / "data"
        t0 = time.perf_counter()
        digests, key = seed(data_dir, args.documents)
        print(f"seeded {args.documents} documents (sealed) in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        server = start_server(data_dir, port, args.workers, folder / "serve.log")
        rows: list[tuple[str, str, int, dict[str, Any], float]] = []
        try:
            rnd = random.Random(7)
            auth = {"Authorization": f"Bearer {key}"}
            # Nine in ten look up a registered document, one in ten an unknown one.
            lookups = [
                digests[rnd.randrange(len(digests))] if i % 10 else secrets.token_hex(32)
                for i in range(10_000)
            ]
            digest_file = folder / "lookups.txt"
            digest_file.write_text("\n".join(lookups) + "\n")

            def verify(i: int) -> bytes:
                body = json.dumps({"sha256": lookups[i % len(lookups)]}).encode()
                return _request("POST", "/v1/verify", body, {"Content-Type": "application/json"})

            document = b"%PDF-1.7 " + os.urandom(2_000)

            def register(i: int) -> bytes:
                body, content_type = multipart(
                    document + i.to_bytes(8, "big"), {"reference": f"REG-{i}", "type": "invoice"}
                )
                return _request(
                    "POST", "/v1/documents", body, {**auth, "Content-Type": content_type}
                )

            def measure_verify(target: int) -> dict[str, Any]:
                """Warm up every worker's caches and connections, then measure."""
                if use_wrk:
                    wrk_args = ["verify", str(digest_file)]
                    wrk_load(
                        target, wrk_args, clients=args.clients, threads=args.wrk_threads, seconds=3
                    )
                    return wrk_load(
                        target,
                        wrk_args,
                        clients=args.clients,
                        threads=args.wrk_threads,
                        seconds=args.seconds,
                    )
                warm = {"clients": args.clients, "procs": args.client_procs, "max_seconds": 20}
                load(target, verify, total=2_000, **warm)
                return load(
                    target,
                    verify,
                    total=args.verify_requests,
                    clients=args.clients,
                    procs=args.client_procs,
                    max_seconds=args.max_seconds,
                )

            result = measure_verify(port)
            # The baseline in the same run, on the same cores, with the same load: the
            # docanchor server is idle meanwhile (its workers wait on their sockets).
            minimal_port = free_port()
            minimal = start_minimal(folder, digests, minimal_port, args.workers)
            try:
                baseline = measure_verify(minimal_port)
            finally:
                stop(minimal)
            rows.append(("POST /v1/verify (JSON digest)", driver, args.clients, result, 0.0))
            rows.append(
                ("POST /v1/verify (minimal FastAPI+SQLite)", driver, args.clients, baseline, 0.0)
            )

            if use_wrk:
                result = wrk_load(
                    port,
                    ["register", key, secrets.token_hex(4)],
                    clients=args.clients,
                    threads=args.wrk_threads,
                    seconds=args.seconds,
                )
            else:
                result = load(
                    port,
                    register,
                    total=args.register_requests,
                    clients=args.clients,
                    procs=args.client_procs,
                    max_seconds=args.max_seconds,
                )
            rows.append(
                (
                    "POST /v1/documents (2 KB multipart file)",
                    driver,
                    args.clients,
                    result,
                    result["rps"],
                )
            )

            def bulk(i: int) -> bytes:
                items = [
                    {
                        "sha256": hashlib.sha256(f"bulk {i} {j}".encode()).hexdigest(),
                        "metadata": {"reference": f"BULK-{i}-{j}"},
                    }
                    for j in range(args.bulk_size)
                ]
                body = json.dumps({"documents": items}).encode()
                return _request(
                    "POST", "/v1/documents/bulk", body, {**auth, "Content-Type": "application/json"}
                )

            for clients in (1, 2):
                result = load(
                    port,
                    bulk,
                    total=args.bulk_requests,
                    clients=clients,
                    procs=clients,
                    max_seconds=args.max_seconds,
                )
                rows.append(
                    (
                        f"POST /v1/documents/bulk ({args.bulk_size} items)",
                        f"python ({clients} procs)",
                        clients,
                        result,
                        result["rps"] * args.bulk_size,
                    )
                )
        finally:
            stop(server)
        load_after = os.getloadavg()

        cores = os.cpu_count()
        print()
        print(
            f"docanchor HTTP API on {HOST}, uvicorn --workers {args.workers}, SQLite, "
            f"{args.documents} documents, access log and metrics on; {cores} cores shared "
            f"with the load generator; load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after"
        )
        print()
        print(
            "| operation | load generator | clients | requests | req/s | docs/s | p50 ms | "
            "p99 ms | statuses |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for name, client, clients, r, docs in rows:
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
            print(
                f"| {name} | {client} | {clients} | {r['requests']} | {r['rps']:,.0f} | "
                f"{f'{docs:,.0f}' if docs else ''} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{statuses} |"
            )
        verify_row, baseline_row = rows[0][3], rows[1][3]
        register_rate = rows[2][4]
        bulk_rate = max(r[4] for r in rows[3:])
        ratio = verify_row["rps"] / baseline_row["rps"]
        print()
        print("| target | measured | met |")
        print("|---|---:|---|")
        for name, measured, met in (
            ("verify / minimal endpoint >= 0.8x", f"{ratio:.2f}x", ratio >= 0.8),
            ("verify p99 <= 25 ms", f"{verify_row['p99_ms']:.1f} ms", verify_row["p99_ms"] <= 25),
            ("single registration >= 500/s", f"{register_rate:,.0f}/s", register_rate >= 500),
            ("bulk >= 50,000 documents/s", f"{bulk_rate:,.0f}/s", bulk_rate >= 50_000),
        ):
            print(f"| {name} | {measured} | {'yes' if met else 'no'} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
