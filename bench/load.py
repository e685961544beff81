"""Load generators: wrk when installed, else a bounded asyncio client.

Both report the same numbers: requests/s, p50/p99 latency (ms) and errors
(non-2xx answers plus socket errors and timeouts).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

LUA = Path(__file__).parent / "lua"


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


@dataclass
class Target:
    """What to send. `chain` turns each response into the next request's body (refresh)."""

    url: str
    method: str = "GET"
    token: str | None = None
    body: str | None = None
    chain_seeds: list[str] | None = None


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run(
    target: Target, *, duration: float, connections: int, threads: int, workdir: Path
) -> Result:
    if have_wrk():
        return _wrk(target, duration, connections, threads, workdir)
    return asyncio.run(_asyncio_load(target, duration, connections))


# wrk ---------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def _wrk(target: Target, duration: float, connections: int, threads: int, workdir: Path) -> Result:
    threads = min(threads, connections)
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if target.chain_seeds is not None:
        seeds = workdir / "refresh-seeds.txt"
        seeds.write_text("\n".join(target.chain_seeds) + "\n")
        args += ["-s", str(LUA / "refresh.lua"), target.url, "--", str(seeds), str(threads)]
    elif target.method == "POST":
        email, password = (target.body or ":").split(":", 1)
        args += ["-s", str(LUA / "login.lua"), target.url, "--", email, password]
    else:
        args += ["-s", str(LUA / "get.lua"), target.url]
        if target.token:
            args += ["--", target.token]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return _parse_wrk(out)


def _parse_wrk(out: str) -> Result:
    def percentile(p: str) -> float:
        match = re.search(rf"^\s+{p}%\s+(\S+)", out, re.M)
        return _ms(match.group(1)) if match else float("nan")

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(g) for g in match.groups())
    return Result(rps, percentile("50"), percentile("99"), errors, requests)


# asyncio fallback ----------------------------------------------------------------------


async def _asyncio_load(target: Target, duration: float, connections: int) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration
    seeds = list(target.chain_seeds or [])

    async def worker(client: httpx.AsyncClient, next_body: Callable[[], str | None]) -> None:
        nonlocal errors
        body = next_body()
        while time.perf_counter() < deadline:
            headers = {"Content-Type": "application/json"} if body else {}
            if target.token:
                headers["Authorization"] = f"Bearer {target.token}"
            start = time.perf_counter()
            try:
                response = await client.request(
                    target.method, target.url, content=body, headers=headers
                )
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - start)
            if response.status_code >= 400:
                errors += 1
            if target.chain_seeds is not None:
                token = (
                    response.json().get("refresh_token") if response.status_code == 200 else None
                )
                if token is None:
                    return
                body = f'{{"refresh_token":"{token}"}}'

    def fixed() -> str | None:
        if target.chain_seeds is not None:
            return f'{{"refresh_token":"{seeds.pop()}"}}' if seeds else None
        if target.body:
            email, password = target.body.split(":", 1)
            return f'{{"email":"{email}","password":"{password}"}}'
        return None

    limits = httpx.Limits(max_connections=connections)
    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client, fixed) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000
            if latencies
            else float("nan")
        )

    return Result(len(latencies) / elapsed, pct(0.50), pct(0.99), errors, len(latencies))
