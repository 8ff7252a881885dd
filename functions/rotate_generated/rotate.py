"""Secrets Manager rotation function for the shop's generated values (session key, admin token).

Secrets Manager calls it four times per rotation with the same ClientRequestToken (the new version's id):

- ``createSecret``: stores a new random value (``GetRandomPassword``, letters and digits, the current value's
  length) as version ``token`` with the ``AWSPENDING`` label; a retry finds it there and does nothing;
- ``setSecret``: nothing: no external system holds these values, the shop reads them from Secrets Manager;
- ``testSecret``: the shop accepts the current and the previous value (its key ring) and nothing else has to
  accept the pending one, so the test only checks its format; a failure stops the rotation here, and the
  pending value is never promoted;
- ``finishSecret``: moves ``AWSCURRENT`` to the pending version (Secrets Manager then labels the old one
  ``AWSPREVIOUS``, which the shop keeps accepting until the next rotation).

It runs only on boto3 and the standard library, both in the Lambda python3.12 runtime; the same file is tested
in-process against moto (``tests/test_rotation_function.py``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import boto3

log = logging.getLogger()
log.setLevel(logging.INFO)

PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"
# What pulumi-random generates for these secrets (components/secrets.py: special=False) and what the shop and an
# HTTP header or Redis AUTH accept; 16 is the shortest any of them allows.
VALUE_FORMAT = re.compile(r"[A-Za-z0-9]{16,128}")


class RotationError(Exception):
    """The rotation cannot go on; Secrets Manager records the failure and keeps the current value."""


Step = Callable[[Any, str, str], None]
"""One rotation step: (Secrets Manager client, secret id, version id)."""
#: Stop waiting this long before Lambda's timeout, so a failure is the function's own (logged), not a kill.
MARGIN_SECONDS = 15.0


class Consumer(Protocol):
    """What holds a rotated value besides Secrets Manager (the cache's AUTH token, CloudFront's origin header): it
    is given the pending value, then shown to accept it."""

    def set(self, client: Any, secret_id: str, token: str) -> None: ...

    def test(self, client: Any, secret_id: str, token: str) -> None: ...


def steps_for(consumer: Consumer) -> dict[str, Step]:
    """The steps of a value a consumer holds: created and promoted as the generated values are, set and tested by
    the consumer."""
    return {"createSecret": create, "setSecret": consumer.set, "testSecret": consumer.test, "finishSecret": finish}


def deadline(context: Any) -> float:
    """``time.monotonic()`` after which a step stops waiting: Lambda's remaining time less ``MARGIN_SECONDS``."""
    return time.monotonic() + context.get_remaining_time_in_millis() / 1000 - MARGIN_SECONDS


def handler(event: dict[str, Any], context: object, client: Any = None) -> None:
    run(event, client or boto3.client("secretsmanager"), STEPS)


def run(event: dict[str, Any], client: Any, steps: Mapping[str, Step]) -> None:
    """Checks that the event names a version this rotation may act on, then runs its step (every function's
    entry point: the checks are Secrets Manager's rotation contract, the steps differ per secret)."""
    secret_id, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    metadata = client.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"{secret_id}: rotation is not enabled")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError(f"{secret_id}: version {token} has no stage for rotation")
    if CURRENT in stages[token]:
        log.info("%s: version %s is already AWSCURRENT", secret_id, token)
        return
    if PENDING not in stages[token]:
        raise RotationError(f"{secret_id}: version {token} is not AWSPENDING")
    if step not in steps:
        raise RotationError(f"{secret_id}: unknown step {step!r}")
    steps[step](client, secret_id, token)


def create(client: Any, secret_id: str, token: str) -> None:
    current = client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)["SecretString"]
    try:
        client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
        log.info("%s: pending version %s exists", secret_id, token)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    value = client.get_random_password(PasswordLength=len(current), ExcludePunctuation=True)["RandomPassword"]
    client.put_secret_value(SecretId=secret_id, ClientRequestToken=token, SecretString=value, VersionStages=[PENDING])
    log.info("%s: created pending version %s", secret_id, token)


def set_(client: Any, secret_id: str, token: str) -> None:
    """No system outside Secrets Manager holds the value."""


def test(client: Any, secret_id: str, token: str) -> None:
    pending = pending_value(client, secret_id, token)
    current = client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)["SecretString"]
    if not VALUE_FORMAT.fullmatch(pending) or len(pending) != len(current):
        # The value itself is never logged.
        raise RotationError(f"{secret_id}: pending version {token} is not {len(current)} letters and digits")
    log.info("%s: pending version %s has the right format", secret_id, token)


def pending_value(client: Any, secret_id: str, token: str) -> str:
    return client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)["SecretString"]


def finish(client: Any, secret_id: str, token: str) -> None:
    stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    current = next((version for version, labels in stages.items() if CURRENT in labels), None)
    if current == token:
        return
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current
    )
    log.info("%s: version %s is AWSCURRENT", secret_id, token)


STEPS: Mapping[str, Step] = {"createSecret": create, "setSecret": set_, "testSecret": test, "finishSecret": finish}
