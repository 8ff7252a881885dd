"""`python -m shop {serve,migrate,seed} [--dev]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import uvloop
from sqlalchemy.exc import DBAPIError

from shop import db
from shop.observability import configure_logging
from shop.runtime import Runtime
from shop.secrets import Secrets
from shop.seed import seed
from shop.settings import ConfigError, dev_settings, load_settings

log = logging.getLogger("shop")
EXIT_CONFIG = 2


async def _job(rt: Runtime, command: str) -> None:
    """migrate / seed, as run by Kubernetes Jobs: wait (bounded) for the database, then do the work."""
    try:
        await db.wait_for_database(rt.engine, rt.settings.db_wait_seconds)
        if command == "migrate":
            await db.migrate(rt.engine)
        elif db.schema_state(await db.database_revisions(rt.engine)) != "behind":
            await seed(rt)
        else:
            raise ConfigError("the database schema is behind this image: run `python -m shop migrate` first")
    finally:
        await rt.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shop", description="The reference shop.")
    parser.add_argument("command", choices=("serve", "migrate", "seed"))
    parser.add_argument("--dev", action="store_true", help="local mode: SQLite, in-process cache, local images")
    args = parser.parse_args(argv)
    try:
        settings = dev_settings() if args.dev else load_settings()
        configure_logging(settings.log_level)
        secrets = Secrets(settings)
        secrets.load_all()  # fail fast on an unreadable secret, before any port opens
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            if args.command == "serve":
                from shop.server import serve  # the web stack is not needed by the migrate/seed jobs

                runner.run(serve(settings, secrets, dev=args.dev))
            else:
                runner.run(_job(Runtime(settings, secrets=secrets), args.command))
    except ConfigError as exc:
        print(f"shop: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (OSError, DBAPIError) as exc:
        log.error("failed", extra={"event": "failed", "error": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
