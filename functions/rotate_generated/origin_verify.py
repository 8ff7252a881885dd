"""Secrets Manager rotation function for the origin verification header (the ``origin-verify`` secret).

CloudFront adds the secret as a header to every request to the shop's load balancer; the origin web ACL's
``through-cloudfront`` rule admits only requests that carry it. The four steps, with the same ClientRequestToken
(the new version's id), after aws-samples/amazon-cloudfront-waf-secretsmanager:

- ``createSecret``: a new random value as the ``AWSPENDING`` version (``rotate.create``);
- ``setSecret``: first the web ACL: the rule accepts the pending value OR the current one (OR, after a rotation
  that failed past this step, the value CloudFront still sends) (``GetWebACL``, then
  ``UpdateWebACL`` with its lock token, the rest of the ACL as read); then the distribution: its origin sends the
  pending value (``GetDistributionConfig``, then ``UpdateDistribution`` with its ETag, only that header
  changed). The origin accepts the new value before any edge sends it. A retry finds both done and changes nothing;
- ``testSecret``: the rule accepts the pending value, the distribution's configuration sends it, and the
  distribution is ``Deployed`` (every edge sends it), waited for until shortly before Lambda's timeout; a failure
  stops the rotation, the pending value is never promoted, and the origin keeps accepting the current one;
- ``finishSecret``: moves ``AWSCURRENT`` to the pending version (``rotate.finish``). The rule keeps accepting the
  old value, now ``AWSPREVIOUS``, until the next rotation: what the Pulumi program renders (current OR previous),
  so a deploy after a rotation changes nothing.

The environment holds ids and names only (web ACL, rule, distribution, origin); values are never logged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import rotate
from rotate import RotationError, log

#: Seconds between two looks at a distribution that is not ``Deployed`` yet.
POLL_SECONDS = 20.0


def handler(event: dict[str, Any], context: Any, client: Any = None, edge: Edge | None = None) -> None:
    edge = edge or Edge(
        wafv2=boto3.client("wafv2"),
        cloudfront=boto3.client("cloudfront"),
        web_acl_name=os.environ["WEB_ACL_NAME"],
        web_acl_id=os.environ["WEB_ACL_ID"],
        web_acl_scope=os.environ["WEB_ACL_SCOPE"],
        rule_name=os.environ["RULE_NAME"],
        distribution_id=os.environ["DISTRIBUTION_ID"],
        origin_id=os.environ["ORIGIN_ID"],
        header=os.environ["HEADER_NAME"],
        deadline=rotate.deadline(context),
    )
    rotate.run(event, client or boto3.client("secretsmanager"), rotate.steps_for(edge))


@dataclass
class Edge:
    """The origin web ACL's rule that checks the header, and the distribution origin that sends it."""

    wafv2: Any
    cloudfront: Any
    web_acl_name: str
    web_acl_id: str
    web_acl_scope: str
    rule_name: str
    distribution_id: str
    origin_id: str
    header: str
    deadline: float
    """``time.monotonic()`` after which waiting for the distribution fails the step."""
    sleep: Callable[[float], None] = field(default=time.sleep)

    def set(self, client: Any, secret_id: str, token: str) -> None:
        pending = rotate.pending_value(client, secret_id, token)
        current = client.get_secret_value(SecretId=secret_id, VersionStage=rotate.CURRENT)["SecretString"]
        config, _ = self._distribution_config()
        # A rotation that failed after its setSecret left CloudFront sending its pending value: the origin keeps
        # accepting it until this rotation's value is deployed.
        sent = self._header(config)["HeaderValue"]
        self._accept(secret_id, token, list(dict.fromkeys([pending, current, sent])))
        self._send(secret_id, token, pending)

    def test(self, client: Any, secret_id: str, token: str) -> None:
        pending = rotate.pending_value(client, secret_id, token)
        acl, _ = self._web_acl()
        if pending not in _accepted(self._rule(acl)["Statement"]):
            raise RotationError(f"{secret_id}: the rule {self.rule_name} does not accept version {token}")
        config, _ = self._distribution_config()
        if self._header(config)["HeaderValue"] != pending:
            raise RotationError(f"{secret_id}: {self.distribution_id} does not send version {token}")
        while (status := self.cloudfront.get_distribution(Id=self.distribution_id)["Distribution"]["Status"]) != (
            "Deployed"
        ):
            if time.monotonic() + POLL_SECONDS > self.deadline:
                raise RotationError(f"{self.distribution_id} is still {status}; retry the rotation later")
            self.sleep(POLL_SECONDS)
        log.info("%s: the origin accepts and every edge sends version %s", secret_id, token)

    def _accept(self, secret_id: str, token: str, values: list[str]) -> None:
        """The rule accepts exactly ``values`` (pending, current and what CloudFront sends if neither): the previous
        value is dropped now, a rotation after the last one finished. A rule that accepts them all already (a retry)
        is left alone."""
        acl, lock_token = self._web_acl()
        rule = self._rule(acl)
        if set(values) <= set(_accepted(rule["Statement"])):
            log.info("%s: the rule %s already accepts version %s", secret_id, self.rule_name, token)
            return
        match = _byte_matches(rule["Statement"])[0]
        rule["Statement"] = {"OrStatement": {"Statements": [_header_is(match, value) for value in values]}}
        # UpdateWebACL replaces every mutable setting: send back all of them as read, the one rule changed.
        settable = self.wafv2.meta.service_model.operation_model("UpdateWebACL").input_shape.members
        kept = {name: value for name, value in acl.items() if name in settable}
        self.wafv2.update_web_acl(**kept, Scope=self.web_acl_scope, LockToken=lock_token)
        log.info("%s: the rule %s accepts version %s and the current one", secret_id, self.rule_name, token)

    def _send(self, secret_id: str, token: str, pending: str) -> None:
        config, etag = self._distribution_config()
        header = self._header(config)
        if header["HeaderValue"] == pending:
            log.info("%s: %s already sends version %s", secret_id, self.distribution_id, token)
            return
        header["HeaderValue"] = pending
        self.cloudfront.update_distribution(DistributionConfig=config, Id=self.distribution_id, IfMatch=etag)
        log.info("%s: %s sends version %s once deployed", secret_id, self.distribution_id, token)

    def _web_acl(self) -> tuple[dict[str, Any], str]:
        answer = self.wafv2.get_web_acl(Name=self.web_acl_name, Scope=self.web_acl_scope, Id=self.web_acl_id)
        return answer["WebACL"], answer["LockToken"]

    def _rule(self, acl: dict[str, Any]) -> dict[str, Any]:
        for rule in acl["Rules"]:
            if rule["Name"] == self.rule_name:
                return rule
        raise RotationError(f"{self.web_acl_name} has no rule {self.rule_name}")

    def _distribution_config(self) -> tuple[dict[str, Any], str]:
        answer = self.cloudfront.get_distribution_config(Id=self.distribution_id)
        return answer["DistributionConfig"], answer["ETag"]

    def _header(self, config: dict[str, Any]) -> dict[str, Any]:
        for origin in config["Origins"]["Items"]:
            if origin["Id"] == self.origin_id:
                for header in origin.get("CustomHeaders", {}).get("Items", []):
                    if header["HeaderName"].lower() == self.header.lower():
                        return header
        raise RotationError(f"{self.distribution_id}: origin {self.origin_id} sends no {self.header} header")


def _byte_matches(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule's header comparisons: one, or those of an ``OrStatement`` (what the program and this function
    write)."""
    if "OrStatement" in statement:
        return [inner["ByteMatchStatement"] for inner in statement["OrStatement"]["Statements"]]
    return [statement["ByteMatchStatement"]]


def _accepted(statement: dict[str, Any]) -> list[str]:
    """The values the rule accepts, in order. WAF returns ``SearchString`` as bytes (a blob)."""
    values = [match["SearchString"] for match in _byte_matches(statement)]
    return [value.decode() if isinstance(value, bytes) else value for value in values]


def _header_is(template: dict[str, Any], value: str) -> dict[str, Any]:
    """``template``'s comparison (header, ``EXACTLY``, no transformation) with ``value``."""
    return {"ByteMatchStatement": {**template, "SearchString": value.encode()}}
