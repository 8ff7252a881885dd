"""Secrets Manager rotation function for the ElastiCache AUTH token (the ``redis-auth`` secret).

The four steps, with the same ClientRequestToken (the new version's id):

- ``createSecret``: a new random token (letters and digits, the current token's length: inside ElastiCache's
  rules of 16-128 printable characters without ``/ " @ %``) as the ``AWSPENDING`` version (``rotate.create``);
- ``setSecret``: ``ModifyReplicationGroup`` with ``AuthTokenUpdateStrategy=ROTATE``: ElastiCache adds the pending
  token beside the one in use and accepts both, so the shop keeps working with the token it holds; SET (which
  would drop the old token) is never used. The group must be ``available`` before (a group that is ``modifying``
  refuses another modification) and is waited for after. A retry whose token the cache already accepts does not
  modify again: a second ROTATE would replace the shop's token with the same new one;
- ``testSecret``: ``AUTH <pending>`` then ``PING`` over TLS against the primary endpoint; a refusal stops the
  rotation, and the pending token is never promoted;
- ``finishSecret``: moves ``AWSCURRENT`` to the pending version (``rotate.finish``); the old token becomes
  ``AWSPREVIOUS``, which the cache still accepts until the next rotation and the shop tries on an AUTH failure.

The Lambda runtime has no Redis client: the two commands are spoken in RESP over ``ssl`` sockets. The replication
group's id is the function's only environment variable (not a secret); the token is never logged.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import rotate
from rotate import RotationError, log

#: Seconds between two looks at a group that is not ``available`` yet.
POLL_SECONDS = 10.0
CONNECT_SECONDS = 5.0


def handler(event: dict[str, Any], context: Any, client: Any = None, cache: Cache | None = None) -> None:
    cache = cache or Cache(
        elasticache=boto3.client("elasticache"),
        group_id=os.environ["REPLICATION_GROUP_ID"],
        tls=ssl.create_default_context(),
        deadline=rotate.deadline(context),
    )
    rotate.run(event, client or boto3.client("secretsmanager"), rotate.steps_for(cache))


@dataclass
class Cache:
    """The replication group whose AUTH token the secret holds."""

    elasticache: Any
    group_id: str
    tls: ssl.SSLContext
    deadline: float
    """``time.monotonic()`` after which waiting for the group fails the step."""
    sleep: Callable[[float], None] = field(default=time.sleep)

    def set(self, client: Any, secret_id: str, token: str) -> None:
        pending = rotate.pending_value(client, secret_id, token)
        if self.accepts(pending, self.available()):
            log.info("%s: the cache already accepts version %s", secret_id, token)
            return
        self.elasticache.modify_replication_group(
            ReplicationGroupId=self.group_id,
            AuthToken=pending,
            AuthTokenUpdateStrategy="ROTATE",
            ApplyImmediately=True,
        )
        log.info("%s: ROTATE to version %s requested on %s", secret_id, token, self.group_id)
        self.available()

    def test(self, client: Any, secret_id: str, token: str) -> None:
        if not self.accepts(rotate.pending_value(client, secret_id, token), self.available()):
            raise RotationError(f"{secret_id}: {self.group_id} refuses version {token}")
        log.info("%s: %s accepts version %s", secret_id, self.group_id, token)

    def available(self) -> tuple[str, int]:
        """Waits until the group is ``available``; its primary endpoint (address, port)."""
        while True:
            (group,) = self.elasticache.describe_replication_groups(ReplicationGroupId=self.group_id)[
                "ReplicationGroups"
            ]
            if group["Status"] == "available":
                endpoint = group["NodeGroups"][0]["PrimaryEndpoint"]
                return endpoint["Address"], int(endpoint["Port"])
            if time.monotonic() + POLL_SECONDS > self.deadline:
                raise RotationError(f"{self.group_id} is still {group['Status']}; retry the rotation later")
            self.sleep(POLL_SECONDS)

    def accepts(self, token: str, endpoint: tuple[str, int]) -> bool:
        """Whether ``AUTH token`` succeeds (and the connection then answers ``PING``) over TLS."""
        address, port = endpoint
        try:
            with (
                socket.create_connection(endpoint, timeout=CONNECT_SECONDS) as raw,
                self.tls.wrap_socket(raw, server_hostname=address) as connection,
            ):
                reader = connection.makefile("rb")
                if not _command(connection, reader, "AUTH", token).startswith(b"+OK"):
                    return False
                return _command(connection, reader, "PING").startswith(b"+PONG")
        except (OSError, ssl.SSLError) as exc:
            raise RotationError(f"{self.group_id}: cannot reach {address}:{port} over TLS: {exc}") from exc


def _command(connection: ssl.SSLSocket, reader: Any, *words: str) -> bytes:
    """Sends one command as a RESP array of bulk strings; the first line of the reply (``+OK``, ``-WRONGPASS``)."""
    encoded = [word.encode() for word in words]
    request = b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded)
    connection.sendall(request)
    return reader.readline()
