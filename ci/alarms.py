"""The alarm gate after a deploy: an alarm of the stack that goes into ALARM after the deploy started fails it.

    python -m ci.alarms STACK [--since TIME] [--keys KEY,...] [--minutes N] [--prefix PREFIX]

The stack's alarms are those whose names start with PREFIX: ``--prefix``, or the stack's ``alarmNamePrefix``
output when the stack exports one. They are looked up in each region of the stack's ``alarmRegions`` output (its
CloudFront alarms live in us-east-1), else in ``--region``. A stack without alarms passes with a note saying
the gate was skipped, so the gate can stay in every pipeline before the stack has any.

Only alarms whose state changed to ALARM after the deploy started count: ``--since`` (ISO 8601), by default the
start that this run's ``make deploy`` of the stack recorded in ``--artifacts``. An alarm already in ALARM
before (an unrelated incident) is reported but does not fail the release, so it cannot roll back a healthy
one. ``--keys`` narrows the gate to some alarms (the names after the prefix, e.g. the shop's own:
``alb-5xx,shop-5xx,shop-latency-p99,shop-unhealthy-targets,shop-pod-restarts,checkout-failures``); by default every
alarm of the stack counts, as a release can also hurt the database or the cache. The gate looks every
``--interval`` seconds for ``--minutes`` minutes and fails at the first such alarm (exit code 1), which the
pipeline answers as it answers a failed smoke test: with a rollback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ci import runner
from ci.release import Release
from stacks.exit_codes import Exit

PREFIX_OUTPUT = "alarmNamePrefix"
REGIONS_OUTPUT = "alarmRegions"


@dataclass(frozen=True)
class FiringAlarm:
    name: str
    reason: str
    since: datetime
    """When its state last changed (to ALARM)."""


def alarms_in_alarm(cloudwatch: Any, prefix: str, keys: frozenset[str] = frozenset()) -> list[FiringAlarm]:
    """Every metric or composite alarm named ``prefix...`` (and, given ``keys``, ``prefix<key>``) in ALARM now."""
    firing = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            if alarm["StateValue"] != "ALARM":  # also checked here: not every API stand-in honours StateValue
                continue
            if keys and alarm["AlarmName"].removeprefix(prefix) not in keys:
                continue
            # StateTransitionedTimestamp: when StateValue last changed; StateUpdatedTimestamp also moves when only
            # the evaluation state does, and is all some API stand-ins report.
            changed = alarm.get("StateTransitionedTimestamp") or alarm["StateUpdatedTimestamp"]
            firing.append(FiringAlarm(alarm["AlarmName"], alarm.get("StateReason", ""), changed))
    return firing


def watch(
    cloudwatches: Sequence[Any],
    prefix: str,
    since: datetime,
    minutes: float,
    interval: float,
    keys: frozenset[str] = frozenset(),
) -> Exit:
    """Fail (1) at the first alarm ``prefix...`` that went into ALARM after ``since`` in any of the regions'
    ``cloudwatches``, else pass (0)."""
    deadline = time.monotonic() + minutes * 60
    watched = f"{prefix}{{{','.join(sorted(keys))}}}" if keys else f"{prefix}*"
    print(f"Watching alarms {watched} for {minutes:g} minutes for any that goes off after {since.isoformat()}")
    known_before: set[str] = set()
    while True:
        firing = [alarm for cloudwatch in cloudwatches for alarm in alarms_in_alarm(cloudwatch, prefix, keys)]
        for alarm in firing:
            if alarm.since <= since and alarm.name not in known_before:
                known_before.add(alarm.name)
                print(f"  {alarm.name} was in ALARM before the deploy ({alarm.since.isoformat()}): not this release's")
        new = [alarm for alarm in firing if alarm.since > since]
        if new:
            for alarm in new:
                runner.error(f"{alarm.name}: {alarm.reason}", title="Alarm in ALARM after deploy")
            return Exit.FAILED
        if time.monotonic() >= deadline:
            print(f"No alarm {watched} went into ALARM after the deploy")
            return Exit.OK
        time.sleep(interval)


def deploy_start(stack: str, artifacts: Path) -> datetime | None:
    """When this run's deploy of ``stack`` started, as ``make deploy`` recorded it."""
    release = Release.of_this_run(artifacts, stack)
    return datetime.fromisoformat(release.started) if release else None


def _since(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (e.g. 2026-05-01T12:00:00+00:00)")
    return moment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.alarms", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--prefix", default="", help=f"alarm name prefix (default: the {PREFIX_OUTPUT} output)")
    parser.add_argument("--since", type=_since, help="when the deploy started (default: this run's deploy record)")
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"), help="where make deploy recorded it")
    parser.add_argument(
        "--keys", default="", help="only these alarms: comma-separated names after the prefix (default: all)"
    )
    parser.add_argument("--minutes", type=float, default=10, help="how long to watch after the deploy")
    parser.add_argument("--interval", type=float, default=30, help="seconds between looks")
    parser.add_argument("--region", default=None, help="AWS region of the alarms (default: the SDK's)")
    args = parser.parse_args(argv)
    prefix, regions = args.prefix, [args.region]
    if not prefix:
        from ci.release import stack_outputs  # needs the Pulumi CLI, so only when asked

        outputs = stack_outputs(args.stack)
        prefix = str(outputs.get(PREFIX_OUTPUT) or "")
        exported_regions = outputs.get(REGIONS_OUTPUT)
        if isinstance(exported_regions, list) and exported_regions:
            regions = [str(region) for region in exported_regions]
    if not prefix:
        print(f"{args.stack} exports no {PREFIX_OUTPUT} output: no alarms to watch, alarm gate skipped")
        return Exit.OK
    since = args.since or deploy_start(args.stack, args.artifacts)
    if since is None:
        runner.error(f"this run deployed no {args.stack}: pass --since (when the deploy started)", title="Alarm gate")
        return Exit.BAD_INPUT
    import boto3  # the AWS SDK is only needed once there are alarms

    clients = [boto3.client("cloudwatch", region_name=region) for region in regions]
    keys = frozenset(key.strip() for key in args.keys.split(",") if key.strip())
    return watch(clients, prefix, since, args.minutes, args.interval, keys)


if __name__ == "__main__":
    sys.exit(main())
