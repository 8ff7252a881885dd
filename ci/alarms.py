"""The alarm gate after a deploy: a CloudWatch alarm of the stack in ALARM within N minutes fails the deploy.

    python -m ci.alarms STACK [--minutes N] [--prefix PREFIX]

The stack's alarms are those whose names start with PREFIX: ``--prefix``, or the stack's ``alarmNamePrefix``
output when the stack exports one. They are looked up in each region of the stack's ``alarmRegions`` output (its
CloudFront alarms live in us-east-1), else in ``--region``. A stack without alarms passes with a note saying
the gate was skipped, so the gate can stay in every pipeline before the stack has any. The gate looks every
``--interval`` seconds for ``--minutes`` minutes and fails at the first alarm in ALARM (exit code 1), which the
pipeline answers as it answers a failed smoke test: with a rollback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from ci import runner

PREFIX_OUTPUT = "alarmNamePrefix"
REGIONS_OUTPUT = "alarmRegions"


def alarms_in_alarm(cloudwatch: Any, prefix: str) -> list[tuple[str, str]]:
    """(name, reason) of every metric or composite alarm named ``prefix...`` that is in ALARM now."""
    firing = []
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    for page in pages:
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            if alarm["StateValue"] == "ALARM":  # also checked here: not every API stand-in honours StateValue
                firing.append((alarm["AlarmName"], alarm.get("StateReason", "")))
    return firing


def watch(cloudwatches: Sequence[Any], prefix: str, minutes: float, interval: float) -> int:
    """Fail (1) at the first alarm ``prefix...`` in ALARM in any of the regions' ``cloudwatches``, else pass (0)."""
    deadline = time.monotonic() + minutes * 60
    print(f"Watching alarms {prefix}* for {minutes:g} minutes")
    while True:
        firing = [alarm for cloudwatch in cloudwatches for alarm in alarms_in_alarm(cloudwatch, prefix)]
        if firing:
            for name, reason in firing:
                runner.error(f"{name}: {reason}", title="Alarm in ALARM after deploy")
            return 1
        if time.monotonic() >= deadline:
            print(f"No alarm {prefix}* went into ALARM")
            return 0
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.alarms", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--prefix", default="", help=f"alarm name prefix (default: the {PREFIX_OUTPUT} output)")
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
        return 0
    import boto3  # the AWS SDK is only needed once there are alarms

    clients = [boto3.client("cloudwatch", region_name=region) for region in regions]
    return watch(clients, prefix, args.minutes, args.interval)


if __name__ == "__main__":
    sys.exit(main())
