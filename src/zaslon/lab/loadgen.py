"""A small open-loop HTTP/1.1 load generator for loopback benchmarks (bounded in count and time).

Requests are due on a fixed schedule (``rps`` per second for ``seconds``); each of ``connections``
keep-alive connections takes the next due request, so a slow server makes requests late, and their
latency counts from when they were due (no coordinated omission). It runs in a child process so that it
does not share an interpreter lock with the caller. Plain asyncio streams: far less client overhead per
request than a general-purpose HTTP client, which matters when client and server share two cores.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any


async def _one_conn(
    port: int, head: bytes, bodies: list[bytes], due: list[float], next_i: list[int], lat: list[float],
    status: dict[int, int], errors: list[int], deadline: float,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            i = next_i[0]
            if i >= len(due):
                return
            next_i[0] = i + 1
            wait = due[i] - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            if time.perf_counter() > deadline:
                return
            body = bodies[i % len(bodies)]
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
            line = await reader.readline()
            code = int(line.split(b" ", 2)[1]) if line else 0
            length = 0
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b""):
                    break
                if h[:15].lower() == b"content-length:":
                    length = int(h[15:].strip())
            if length:
                await reader.readexactly(length)
            lat.append(time.perf_counter() - due[i])
            status[code] = status.get(code, 0) + 1
            if code >= 400 or code == 0:
                errors[0] += 1
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
        errors[0] += 1
    finally:
        writer.close()


async def _main(port: int, key: str, bodies: list[bytes], rps: float, seconds: float, path: str,
                connections: int) -> dict[str, Any]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    total = int(rps * seconds)
    start = time.perf_counter() + 0.2
    due = [start + i / rps for i in range(total)]
    lat: list[float] = []
    status: dict[int, int] = {}
    errors = [0]
    next_i = [0]
    deadline = start + seconds * 3 + 5  # bounded in time even when the server cannot keep up
    await asyncio.gather(*(
        _one_conn(port, head, bodies, due, next_i, lat, status, errors, deadline) for _ in range(connections)
    ))
    elapsed = time.perf_counter() - start
    ms = sorted(x * 1000 for x in lat)

    def q(p: float) -> float | None:
        return round(ms[min(len(ms) - 1, int(p * len(ms)))], 2) if ms else None

    return {"sent": len(lat), "achieved_rps": round(len(lat) / elapsed, 1), "p50_ms": q(0.50), "p99_ms": q(0.99),
            "max_ms": round(ms[-1], 2) if ms else None, "errors": errors[0], "status": status}


def run_load(port: int, key: str, bodies: list[bytes], *, rps: float, seconds: float, path: str,
             connections: int = 64) -> dict[str, Any]:
    """Run the load in a child Python process (its own interpreter lock); returns its figures."""
    import subprocess
    import sys

    job = json.dumps({"port": port, "key": key, "bodies": [b.decode() for b in bodies[: int(rps * seconds) + 1]],
                      "rps": rps, "seconds": seconds, "path": path, "connections": connections})
    try:
        done = subprocess.run([sys.executable, "-m", "zaslon.lab.loadgen"], input=job.encode(),
                              capture_output=True, timeout=seconds * 3 + 60, check=False)
    except subprocess.TimeoutExpired:
        return {"sent": 0, "achieved_rps": 0, "p50_ms": None, "p99_ms": None, "errors": -1, "status": {},
                "error": "load generator timed out"}
    if done.returncode != 0:
        return {"sent": 0, "achieved_rps": 0, "p50_ms": None, "p99_ms": None, "errors": -1, "status": {},
                "error": done.stderr.decode()[-1000:]}
    out: dict[str, Any] = json.loads(done.stdout)
    return out


if __name__ == "__main__":
    import sys

    a = json.loads(sys.stdin.buffer.read())
    try:  # the faster event loop (a dependency of the server too): less of the shared CPU for the client
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    res = asyncio.run(_main(a["port"], a["key"], [b.encode() for b in a["bodies"]], a["rps"], a["seconds"],
                            a["path"], a["connections"]))
    res["status"] = {str(k): v for k, v in res["status"].items()}
    print(json.dumps(res))
