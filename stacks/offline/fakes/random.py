"""Fakes for pulumi-random: deterministic values, secret where the provider's are."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from stacks.offline.fakes import FakeResource, outputs


@outputs("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString")
def _random_string(resource: FakeResource) -> dict:
    length = int(resource.inputs.get("length", 16))
    # New keepers mean a new resource and so a new value (a rotation), as with the real provider.
    seed = resource.seed + (
        json.dumps(resource.inputs["keepers"], sort_keys=True) if "keepers" in resource.inputs else ""
    )
    alphabet = base64.b64encode(hashlib.sha512(seed.encode()).digest()).decode()
    value = (alphabet.replace("/", "x").replace("+", "y") * (length // len(alphabet) + 1))[:length]
    fake: dict[str, Any] = {"result": resource.secret(value)}
    if resource.type.endswith("RandomPassword"):
        fake["bcryptHash"] = resource.secret("$2a$10$" + value)
    return fake


@outputs("random:index/randomId:RandomId")
def _random_id(resource: FakeResource) -> dict:
    raw = hashlib.sha256(resource.seed.encode()).digest()[: int(resource.inputs.get("byteLength", 8))]
    return {
        "hex": raw.hex(),
        "dec": str(int.from_bytes(raw, "big")),
        "b64Std": base64.b64encode(raw).decode(),
        "b64Url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
