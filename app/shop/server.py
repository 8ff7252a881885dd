"""Run the public and internal apps on their two ports in one process, with graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Generator

import uvicorn

from shop import db, tracing
from shop.app import create_apps
from shop.observability import log_event
from shop.runtime import Runtime
from shop.secrets import Secrets
from shop.seed import seed
from shop.settings import Settings

log = logging.getLogger("shop.server")
# Kubernetes sends SIGTERM, then SIGKILL after terminationGracePeriodSeconds (30 s by default).
GRACEFUL_SHUTDOWN_SECONDS = 20


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the runner handles signals once for both servers


async def serve(settings: Settings, secrets: Secrets, *, dev: bool = False) -> None:
    rt = Runtime(settings, secrets=secrets)
    traces = None
    try:
        if dev:
            await db.migrate(rt.engine)
            await seed(rt)
        public, internal = create_apps(rt)
        traces = tracing.configure([public, internal], rt.engine)
        servers = [
            _Server(_config(public, settings.host, settings.port)),
            _Server(_config(internal, settings.host, settings.internal_port)),
        ]

        def stop() -> None:
            log_event(log, "shutdown_requested")
            rt.shutting_down = True  # readiness fails first, so load balancers stop sending traffic
            for server in servers:
                server.should_exit = True

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        rt.start_housekeeping()
        await _report_foreign_priced(rt)
        frozen = _freeze_startup_heap()
        log_event(
            log,
            "serving",
            env=settings.env,
            public_port=settings.port,
            internal_port=settings.internal_port,
            redis=settings.redis_url is not None,
            s3=settings.s3_bucket is not None,
            tracing=traces is not None,
            frozen_objects=frozen,
        )
        if dev:
            log_event(
                log,
                "dev_admin_login",
                level=logging.WARNING,
                admin_url=f"http://{settings.host}:{settings.internal_port}/admin",
                admin_token=rt.secrets.admin_token.get(),
                note="dev-only token; never used outside --dev",
            )
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        await rt.close()
        if traces is not None:
            traces.shutdown()
        log_event(log, "stopped")


def _freeze_startup_heap() -> int:
    """Put what start-up made (modules, routes, schemas, mappers, templates) out of the garbage collector's reach,
    and return how many objects that is. A full collection then walks only what requests made since: in
    bench/shop.py a full collection stopped the process for 91 ms (median) before, 11 ms after, and every request in
    flight waits for it (docs/benchmarks.md). The collection first frees start-up's garbage, so none is frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def _report_foreign_priced(rt: Runtime) -> None:
    """Products priced in another currency than SHOP_CURRENCY are not sold; say so once, loudly, at start-up."""
    try:
        skus = await rt.catalog.foreign_priced()
    except Exception as exc:  # noqa: BLE001 - the database may not be up yet; serving must not depend on it
        log_event(log, "currency_check_skipped", level=logging.WARNING, error=type(exc).__name__)
        return
    if skus:
        log_event(
            log,
            "products_not_sold",
            level=logging.WARNING,
            reason=f"priced in another currency than SHOP_CURRENCY={rt.settings.currency}",
            count=len(skus),
            skus=skus[:20],
        )


def _config(app: object, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # pyright: ignore[reportArgumentType]
        host=host,
        port=port,
        lifespan="off",
        http="httptools",
        access_log=False,  # the middleware logs each request as JSON
        log_config=None,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips="*",  # only the load balancer can reach the pod
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=65,  # longer than the ALB idle timeout (60 s), or the ALB sees resets
    )
