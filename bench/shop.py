"""Benchmark of the reference shop against uvicorn on loopback, PostgreSQL and Redis.

Starts `python -m shop serve` itself (own PostgreSQL database, own Redis key prefix), migrates and seeds it,
warms up, then drives each scenario with wrk at 32 connections: a hello-world endpoint (/healthz, same server,
same settings), the catalog API, the catalog page, add-to-cart and checkout. The five scenarios run in passes (three
by default) and each figure is the median of its passes, with the worst pass beside it: on a shared machine one
pass can land on a neighbour's burst. Prints requests/s, p50 and p99, checks that checkout never oversold and
reports the worker's peak RSS. Everything is cleaned up afterwards.

    .venv/bin/python bench/shop.py [--duration 10] [--passes 3] [--connections 32] [--json out.json]

Needs wrk, PostgreSQL (SHOP_TEST_POSTGRES_URL) and Redis (SHOP_TEST_REDIS_URL) on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

APP_DIR = Path(__file__).resolve().parent.parent / "app"
POSTGRES_URL = os.environ.get("SHOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SHOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_TOKEN = "bench-admin-token-" + uuid.uuid4().hex
CHECKOUT_SKUS = ("MUG-CLASSIC", "TEE-LOGO", "STK-PACK", "NB-DOT")
CHECKOUT_STOCK = 1_000_000
TARGETS = {"catalog_ratio": 0.60, "cached_p99_ms": 50.0, "orders_per_s": 150.0, "rss_mb": 200.0}

# Every wrk script reports through the same done(): one JSON line on stdout.
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""
# Requests that need distinct ids read them from a file; wrk threads take interleaved slices of it.
LUA_IDS = """
local ids, n, step, threads = {}, 0, 1, 0
setup = function(thread) thread:set("tid", threads); threads = threads + 1 end
init = function(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  step = tonumber(args[2])
  n = tid - step
end
local function next_id()
  n = n + step
  return ids[(n % #ids) + 1]
end
"""
LUA_ADD_TO_CART = (
    LUA_IDS
    + """
request = function()
  local id = next_id()
  return wrk.format("PUT", "/api/v1/carts/" .. id .. "/items/STK-HOLO", {["Content-Type"] = "application/json"},
    '{"quantity":1}')
end
"""
    + LUA_DONE
)
LUA_CHECKOUT = (
    LUA_IDS
    + """
local body = '{"email":"bench@example.com","shipping_address":{"name":"Bench","line1":"1 Loop Rd","line2":"",'
  .. '"city":"Localhost","postal_code":"12345","country":"US"},"payment":{"card_number":"4242424242424242",'
  .. '"exp_month":12,"exp_year":2099,"cvc":"123"},"cart_id":"'
request = function()
  local id = next_id()
  return wrk.format("POST", "/api/v1/orders", {["Content-Type"] = "application/json", ["Idempotency-Key"] = id},
    body .. id .. '"}')
end
"""
    + LUA_DONE
)


@dataclass
class Result:
    """One scenario over all passes: medians, the worst pass's throughput and tail, and the sums of failures."""

    scenario: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    lowest_requests_per_s: float
    highest_p99_ms: float
    errors: int
    non2xx: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"shopbench_{uuid.uuid4().hex[:10]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    prefix = f"shopbench:{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()


def shop_env(database_url: str, prefix: str, media: Path, public: int, internal: int) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    return base | {
        "SHOP_ENV": "dev",  # literal secrets: nothing here talks to AWS
        "SHOP_HOST": "127.0.0.1",
        "SHOP_PORT": str(public),
        "SHOP_INTERNAL_PORT": str(internal),
        "SHOP_DATABASE_URL": database_url,
        "SHOP_REDIS_URL": REDIS_URL,
        "SHOP_REDIS_KEY_PREFIX": prefix,
        "SHOP_SESSION_SECRET": uuid.uuid4().hex * 2,
        "SHOP_ADMIN_TOKEN": ADMIN_TOKEN,
        "SHOP_MEDIA_DIR": str(media),
        "SHOP_LOG_LEVEL": "INFO",  # production default: every request is logged
    }


def shop_command(command: str, env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "shop", command], cwd=APP_DIR, env=env, **kwargs)  # type: ignore[call-overload]


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit("the shop did not become ready")


def wrk(url: str, script: str, args: list[str], duration: float, connections: int, threads: int) -> dict[str, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "5s",
                "-s",
                f.name,
                url,
                "--",
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    return json.loads(out.strip().splitlines()[-1])


async def make_carts(base: str, count: int, items: list[str]) -> list[str]:
    """Carts for add-to-cart and checkout, made through the public API with bounded concurrency."""
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        semaphore = asyncio.Semaphore(32)

        async def one(index: int) -> str:
            async with semaphore:
                cart = (await client.post("/api/v1/carts")).json()["id"]
                if items:
                    sku = items[index % len(items)]
                    response = await client.put(f"/api/v1/carts/{cart}/items/{sku}", json={"quantity": 1})
                    response.raise_for_status()
                return cart

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stock_and_sold(database_url: str) -> dict[str, tuple[int, int]]:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT p.sku, p.stock, coalesce(sum(l.quantity) FILTER (WHERE o.status <> 'cancelled'), 0) "
            "FROM products p LEFT JOIN order_lines l ON l.sku = p.sku LEFT JOIN orders o ON o.id = l.order_id "
            "WHERE p.sku = ANY(%s) GROUP BY p.sku, p.stock",
            (list(CHECKOUT_SKUS),),
        ).fetchall()
    return {sku: (stock, int(sold)) for sku, stock, sold in rows}


def run(duration: float, passes: int, connections: int, threads: int) -> tuple[list[Result], dict[str, object]]:
    public, internal = free_port(), free_port()
    base = f"http://127.0.0.1:{public}"
    with database() as database_url, redis_prefix() as prefix, tempfile.TemporaryDirectory() as tmp:
        env = shop_env(database_url, prefix, Path(tmp) / "media", public, internal)
        for job in ("migrate", "seed"):
            if shop_command(job, env, stdout=subprocess.DEVNULL).wait() != 0:
                raise SystemExit(f"python -m shop {job} failed")
        with open(Path(tmp) / "server.log", "wb") as log:
            server = shop_command("serve", env, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_ready(base)
                load = Load(base, Path(tmp), duration, connections, threads)
                return scenarios(load, internal, database_url, server.pid, passes)
            finally:
                server.terminate()
                server.wait(timeout=30)


@dataclass(frozen=True)
class Load:
    """Where and how hard wrk drives the shop."""

    base: str
    tmp: Path
    duration: float
    connections: int
    threads: int

    def drive(self, url: str, script: str, args: list[str], *, warm_up: bool = True) -> dict[str, int]:
        if warm_up:
            wrk(url, script, args, min(3.0, self.duration), self.connections, self.threads)
        return wrk(url, script, args, self.duration, self.connections, self.threads)


def scenarios(
    load: Load, internal: int, database_url: str, pid: int, passes: int
) -> tuple[list[Result], dict[str, object]]:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for sku in CHECKOUT_SKUS:
        httpx.put(
            f"http://127.0.0.1:{internal}/api/v1/admin/products/{sku}/stock",
            json={"stock": CHECKOUT_STOCK},
            headers=admin,
        ).raise_for_status()
    first = stock_and_sold(database_url)
    cart_file = load.tmp / "carts.txt"
    cart_file.write_text("\n".join(asyncio.run(make_carts(load.base, 1000, []))) + "\n")
    threads = str(load.threads)
    reads = [
        ("hello-world (/healthz)", load.base + "/healthz", LUA_DONE, []),
        ("catalog API", load.base + "/api/v1/products?limit=20", LUA_DONE, []),
        ("catalog page", load.base + "/", LUA_DONE, []),
        ("add-to-cart", load.base, LUA_ADD_TO_CART, [str(cart_file), threads]),
    ]
    runs: dict[str, list[dict[str, int]]] = {name: [] for name, *_ in reads} | {"checkout": []}
    orders_per_s: list[float] = []
    for _ in range(passes):
        # Enough carts for 600 orders/s, four times the target, each checked out exactly once.
        checkout_file = load.tmp / "checkout.txt"
        checkout_carts = asyncio.run(make_carts(load.base, int(600 * load.duration), list(CHECKOUT_SKUS)))
        checkout_file.write_text("\n".join(checkout_carts) + "\n")
        for name, url, script, args in reads:
            runs[name].append(load.drive(url, script, args))
        before = stock_and_sold(database_url)
        # Checkout carts are single-use; its warm-up is the scenarios before it.
        runs["checkout"].append(load.drive(load.base, LUA_CHECKOUT, [str(checkout_file), threads], warm_up=False))
        after = stock_and_sold(database_url)
        orders_per_s.append(sum(after[s][1] - before[s][1] for s in CHECKOUT_SKUS) / load.duration)
    last = stock_and_sold(database_url)
    oversold = sum(
        max(0, (last[sku][1] - first[sku][1]) - (first[sku][0] - last[sku][0])) + (last[sku][0] < 0)
        for sku in CHECKOUT_SKUS
    )
    consistent = all(first[s][0] - last[s][0] == last[s][1] - first[s][1] for s in CHECKOUT_SKUS)
    extra: dict[str, object] = {
        "passes": passes,
        "orders_placed": sum(last[s][1] - first[s][1] for s in CHECKOUT_SKUS),
        "orders_per_s": round(statistics.median(orders_per_s), 1),
        "lowest_orders_per_s": round(min(orders_per_s), 1),
        "oversold_units": oversold,
        "stock_consistent": consistent,
        "peak_rss_mb": round(peak_rss_mb(pid), 1),
    }
    return [summarize(name, raws) for name, raws in runs.items()], extra


def summarize(name: str, raws: list[dict[str, int]]) -> Result:
    rates = [raw["requests"] / (raw["duration_us"] / 1e6) for raw in raws]
    p99s = [raw["p99_us"] / 1000 for raw in raws]
    return Result(
        scenario=name,
        requests_per_s=round(statistics.median(rates), 1),
        p50_ms=round(statistics.median(raw["p50_us"] / 1000 for raw in raws), 2),
        p99_ms=round(statistics.median(p99s), 2),
        lowest_requests_per_s=round(min(rates), 1),
        highest_p99_ms=round(max(p99s), 2),
        errors=sum(raw["errors"] for raw in raws),
        non2xx=sum(raw["non2xx"] for raw in raws),
    )


def verdict(results: list[Result], extra: dict[str, object]) -> list[tuple[str, bool, str]]:
    by = {r.scenario: r for r in results}
    hello, api, page = by["hello-world (/healthz)"], by["catalog API"], by["catalog page"]
    ratio = api.requests_per_s / hello.requests_per_s
    orders_per_s = float(extra["orders_per_s"])  # type: ignore[arg-type]
    rss = float(extra["peak_rss_mb"])  # type: ignore[arg-type]
    return [
        ("catalog API >= 60 % of hello-world req/s", ratio >= TARGETS["catalog_ratio"], f"{ratio:.0%}"),
        (
            "p99 < 50 ms for cached reads (catalog API, catalog page)",
            max(api.p99_ms, page.p99_ms) < TARGETS["cached_p99_ms"],
            f"{api.p99_ms} ms / {page.p99_ms} ms (worst pass {api.highest_p99_ms} / {page.highest_p99_ms})",
        ),
        (
            "checkout >= 150 orders/s",
            orders_per_s >= TARGETS["orders_per_s"],
            f"{orders_per_s} orders/s (lowest pass {extra['lowest_orders_per_s']})",
        ),
        (
            "0 oversell, stock consistent",
            extra["oversold_units"] == 0 and bool(extra["stock_consistent"]),
            f"{extra['oversold_units']} oversold",
        ),
        ("worker RSS < 200 MB", rss < TARGETS["rss_mb"], f"{rss} MB"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario (default 10)")
    parser.add_argument("--passes", type=int, default=3, help="passes over all scenarios; figures are medians")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.passes < 1 or args.duration < 1:
        parser.error("--passes and --duration must be at least 1")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required (apt-get install wrk)")

    results, extra = run(args.duration, args.passes, args.connections, args.threads)
    print(f"\nmedians of {args.passes} passes of {args.duration:g} s; lowest req/s and highest p99 of any pass")
    print(
        f"{'scenario':<26}{'req/s':>8}{'lowest':>8}{'p50 ms':>8}{'p99 ms':>8}{'highest':>9}{'errors':>8}{'non-2xx':>9}"
    )
    for r in results:
        print(
            f"{r.scenario:<26}{r.requests_per_s:>8.0f}{r.lowest_requests_per_s:>8.0f}{r.p50_ms:>8.1f}"
            f"{r.p99_ms:>8.1f}{r.highest_p99_ms:>9.1f}{r.errors:>8}{r.non2xx:>9}"
        )
    print(
        f"\norders placed: {extra['orders_placed']} (median {extra['orders_per_s']}/s), "
        f"oversold units: {extra['oversold_units']}, peak worker RSS: {extra['peak_rss_mb']} MB"
    )
    checks = verdict(results, extra)
    for label, ok, value in checks:
        print(f"  [{'ok' if ok else 'MISS'}] {label}: {value}")
    if args.json:
        args.json.write_text(json.dumps({"results": [asdict(r) for r in results], **extra}, indent=2))
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
