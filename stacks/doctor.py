"""``python -m stacks doctor STACK``: what can be known before a first real deploy of STACK.

Three groups of checks, each a list of lines:
- the stack file (offline, always): its **example values** — documentation domains (RFC 2606/6761),
  documentation networks (RFC 5737), the example AWS account ``123456789012`` (the deploy runner's example GitHub
  connection among them), the example repository ``example-org/...`` and the bootstrap's example GitHub ids,
  made-up image tags and digests —
  and strings given for boolean settings, one problem per key and value;
- the **tools** (no credentials): the Pulumi CLI and its version against the SDK's, the AWS CLI (pulumi-eks's
  kubeconfig runs ``aws eks get-token``), Node's ``npm`` for ``make lint``;
- with **AWS credentials** only: the account they point at, the self-managed state bucket of
  ``PULUMI_BACKEND_URL``, that every role the cluster grants access to exists (EKS refuses an access entry for
  a missing principal part-way through creating the cluster) and, once the domain's hosted zone exists, that the
  parent zone delegates the domain to it, and that the deploy runner's GitHub connection is available (the platform
  stacks require it offline too: the deploy jobs run on that runner). Without credentials these are skipped, in one
  line, and the delegation is printed as a step.

``require_pulumi_cli`` is the prerequisite the cloud make targets run before anything that calls ``pulumi``:
``python -m stacks.doctor`` runs it alone, in the locked deploy environment (``make deploy-venv``), which lacks what
``python -m stacks`` also loads for the offline preview.
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stacks.exit_codes import Exit

#: Domains reserved for documentation and testing (RFC 2606, RFC 6761): they can never be the shop's.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org", "example", "test", "invalid", "localhost")
#: A dotted name: a host, a domain or the part of an e-mail address after the ``@``.
DOTTED_NAME = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")
#: Networks reserved for documentation (RFC 5737 TEST-NET-1..3, RFC 3849 for IPv6).
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(cidr) for cidr in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
#: The account id AWS's documentation uses in examples.
EXAMPLE_ACCOUNT = "123456789012"
#: The GitHub repository the stack files name as an example (``runnerRepository``; the bootstrap's too).
EXAMPLE_REPOSITORY = re.compile(r"example-org/[\w.-]+")
#: The GitHub ids the bootstrap's stack file gives as examples, and how to read yours (docs/cicd.md "OIDC and
#: environments"). Left in place, the deploy roles trust whichever repository GitHub gave that id to, and the
#: production environment waits for the approval of somebody else's team.
EXAMPLE_GITHUB_IDS = {
    "shop-bootstrap:githubRepositoryId": (100000001, "the repository's id: gh api repos/OWNER/NAME --jq .id"),
    "shop-bootstrap:githubReviewerTeams": (200000001, "your reviewers' team ids: gh api orgs/ORG/teams/SLUG --jq .id"),
}
#: A long hexadecimal string: a commit or an image digest.
HEX = re.compile(r"[0-9a-f]{32,}")
#: Example role names the stack files ship with, checked against IAM when credentials exist.
ROLE_KEYS = ("shop-platform:eksAdminRoles", "shop-platform:eksPipelineRoles", "shop-platform:eksReadOnlyRoles")
NAME_PREFIX_KEY = "shop-platform:namePrefix"
DOMAIN_KEY = "shop-platform:domain"
CONNECTION_KEY = "shop-platform:runnerConnectionArn"
ZONE_ID_KEY = "shop-platform:edgeZoneId"
DEFAULT_NAME_PREFIX = "shop"


class DoctorError(Exception):
    """Bad input: a missing or unreadable stack file."""


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ example values


def read_stack_config(stack_file: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file (raises ``DoctorError`` naming the file)."""
    try:
        document = yaml.safe_load(stack_file.read_text()) or {}
    except FileNotFoundError:
        raise DoctorError(f"{stack_file.name}: no such file") from None
    except yaml.YAMLError as error:
        raise DoctorError(f"{stack_file.name}: malformed YAML: {getattr(error, 'problem', None) or error}") from None
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise DoctorError(f"{stack_file.name}: expected a 'config:' mapping")
    return config


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _example_domain(text: str) -> str | None:
    for host in DOTTED_NAME.findall(text.lower()):
        for domain in EXAMPLE_DOMAINS:
            if host == domain or host.endswith("." + domain):
                return domain
    return None


def _documentation_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    for documentation in DOCUMENTATION_NETWORKS:
        if network.version == documentation.version and network.overlaps(documentation):
            return documentation
    return None


def _counts_up(digits: str) -> bool:
    """Each character one more than the last, in hexadecimal or in decimal (``6789ab``, ``678901``)."""
    values = [int(digit, 16) for digit in digits]
    return all(b == (a + 1) % 16 or (a < 10 and b == (a + 1) % 10) for a, b in itertools.pairwise(values))


def made_up_hex(text: str, run: int = 6, repeat: int = 12) -> bool:
    """Whether a hexadecimal string was typed rather than computed: a run of ``run`` characters counting up (every
    character or every other one, as in ``a4b5c6d7``) or a ``repeat``-character stretch that occurs twice. A real
    SHA-1 or SHA-256 shows either with a probability around 1e-4."""
    for stride in (1, 2):
        for start in range(len(text) - (run - 1) * stride):
            if _counts_up(text[start : start + run * stride : stride]):
                return True
    return any(text.find(text[i : i + repeat], i + 1) >= 0 for i in range(len(text) - repeat))


def example_value_problems(config: dict[str, Any], file_name: str) -> list[str]:
    """One line per key and example value of a stack file's config."""
    problems = []
    for key, value in config.items():
        for text in _strings(value):
            if domain := _example_domain(text):
                problems.append(
                    f"{file_name}: {key}: '{text}' uses the documentation domain {domain}: set a domain you control"
                )
            if network := _documentation_network(text):
                problems.append(
                    f"{file_name}: {key}: '{text}' is in the documentation network {network} (RFC 5737): set your "
                    "own networks' addresses"
                )
            if EXAMPLE_REPOSITORY.fullmatch(text):
                problems.append(
                    f"{file_name}: {key}: '{text}' is the example repository: set your repository's OWNER/NAME"
                )
            if EXAMPLE_ACCOUNT in text:
                problems.append(
                    f"{file_name}: {key}: '{text}' names the example AWS account {EXAMPLE_ACCOUNT}: use your account"
                )
            if any(made_up_hex(digits) for digits in HEX.findall(text.lower())):
                problems.append(
                    f"{file_name}: {key}: '{text}' is a made-up value, not an image you built: push one with "
                    "`make image` and deploy it with `make deploy` (docs/getting-started.md)"
                )
        if key in EXAMPLE_GITHUB_IDS:
            example, yours = EXAMPLE_GITHUB_IDS[key]
            if example in (value if isinstance(value, list) else [value]):
                problems.append(f"{file_name}: {key}: {example} is the example's id, not yours: set {yours}")
    return problems


def boolean_problems(config: dict[str, Any], declarations: dict[str, Any], project: str, file_name: str) -> list[str]:
    """Keys that Pulumi.yaml declares boolean but the stack file gives as a string (``"no"``, ``"false"``): Pulumi
    passes them on as text, which the program must not read as a truth value."""
    problems = []
    for name, declaration in declarations.items():
        key = name if ":" in name else f"{project}:{name}"
        value = config.get(key)
        if isinstance(declaration, dict) and declaration.get("type") == "boolean" and isinstance(value, str):
            problems.append(f"{file_name}: {key}: '{value}' is a string; write true or false without quotes")
    return problems


# ------------------------------------------------------------------------------------------ tools

Run = Callable[[list[str]], str]


def _run(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout  # noqa: S603 - fixed tools


def pulumi_sdk_version() -> str:
    return importlib.metadata.version("pulumi")


def require_pulumi_cli(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The problem that stops every cloud target before it starts, or None when the Pulumi CLI is on PATH."""
    if which("pulumi") is None:
        return (
            f"the Pulumi CLI is not on PATH: install {pulumi_sdk_version()} (the SDK's pin) from "
            "https://www.pulumi.com/docs/iac/download-install/ (docs/getting-started.md)"
        )
    return None


def tool_report(which: Callable[[str], str | None] = shutil.which, run: Run = _run) -> Report:
    report = Report()
    sdk = pulumi_sdk_version()
    if missing := require_pulumi_cli(which):
        report.problems.append(missing)
    else:
        try:
            cli = run(["pulumi", "version"]).strip().removeprefix("v")
        except (OSError, subprocess.SubprocessError) as error:
            report.problems.append(f"`pulumi version` failed ({error}): reinstall the Pulumi CLI {sdk}")
        else:
            if cli != sdk:
                report.notes.append(f"Pulumi CLI {cli}, SDK {sdk}: the pinned pair is CLI {sdk}")
            else:
                report.notes.append(f"Pulumi CLI {cli} matches the SDK")
    if which("aws") is None:
        report.problems.append(
            "the AWS CLI is not on PATH: pulumi-eks's kubeconfig runs `aws eks get-token`; install AWS CLI v2"
        )
    if which("npm") is None:
        report.notes.append(
            "npm (Node.js) is not on PATH: `make lint` installs pyright with it (`npm ci`, package-lock.json); "
            "previews and deploys do not need it"
        )
    return report


# ------------------------------------------------------------------------------------------ credentials


def _role_names(config: dict[str, Any], stack: str) -> list[str]:
    prefix = config.get(NAME_PREFIX_KEY, DEFAULT_NAME_PREFIX)
    names = [f"{prefix}-ci-deploy-{stack}"] if ROLE_KEYS[1] not in config else []
    for key in ROLE_KEYS:
        names.extend(str(name) for name in config.get(key) or [])
    return names


def _state_backend_problems(session: Any, backend_url: str) -> list[str]:
    """The self-managed state backend's bucket (``PULUMI_BACKEND_URL=s3://BUCKET...``, the bootstrap's
    ``stateBackendUrl``) must exist and answer these credentials."""
    from botocore.exceptions import ClientError

    if not backend_url.startswith("s3://"):
        return []
    bucket = backend_url.removeprefix("s3://").split("?")[0].split("/")[0]
    try:
        session.client("s3").head_bucket(Bucket=bucket)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return [
            f"PULUMI_BACKEND_URL: the state bucket {bucket} answers {code or error}: run the bootstrap "
            "(docs/cicd.md) or fix the URL"
        ]
    return []


def credential_report(config: dict[str, Any], stack: str, session: Any | None = None) -> Report:
    """With AWS credentials: their account, and that each cluster access role exists; without, one note."""
    # Imported here: boto3 costs every other command (the offline preview among them) a quarter of a second.
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    report = Report()
    if session is None:
        session = boto3.Session()
    domain = str(config.get(DOMAIN_KEY, ""))
    if session.get_credentials() is None:
        report.notes.append("no AWS credentials: skipped the account and IAM role checks")
        if domain:
            report.notes.append(_delegation_step(domain))
        return report
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        report.problems.append(f"AWS credentials found but STS refused them: {error}")
        return report
    report.notes.append(f"AWS credentials for account {account}")
    report.problems += _state_backend_problems(session, os.environ.get("PULUMI_BACKEND_URL", ""))
    iam = session.client("iam")
    for name in _role_names(config, stack):
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            report.problems.append(
                f"IAM role {name} does not exist in account {account}: the cluster's access entries name it "
                f"({', '.join(ROLE_KEYS)}); create it (the bootstrap creates the shop-ci-* roles) or remove it"
            )
    if connection := str(config.get(CONNECTION_KEY, "")):
        report.problems += _connection_problems(session, connection)
    if domain:
        try:
            delegation = zone_delegation_report(session.client("route53"), domain, str(config.get(ZONE_ID_KEY, "")))
        except (BotoCoreError, ClientError) as error:
            report.problems.append(f"zone delegation of {domain}: Route 53 refused the check: {error}")
        else:
            report.problems += delegation.problems
            report.notes += delegation.notes
    return report


def _connection_problems(session: Any, arn: str) -> list[str]:
    """The deploy runner's GitHub connection must exist and have finished its handshake (a connection created
    outside the console stays PENDING until someone completes it there)."""
    from botocore.exceptions import BotoCoreError, ClientError

    service, region = arn.split(":")[2], arn.split(":")[3]
    try:
        status = session.client(service, region_name=region).get_connection(ConnectionArn=arn)["Connection"]
    except (BotoCoreError, ClientError) as error:
        return [
            f"{CONNECTION_KEY}: {arn} cannot be read ({error}): create the connection (docs/cicd.md#the-deploy-runner)"
        ]
    if status.get("ConnectionStatus") != "AVAILABLE":
        return [
            f"{CONNECTION_KEY}: the connection is {status.get('ConnectionStatus')}: finish its GitHub handshake in "
            "the console (Developer Tools > Settings > Connections > Update pending connection)"
        ]
    return []


# ------------------------------------------------------------------------------------------ zone delegation


def _delegation_step(domain: str) -> str:
    return (
        f"zone delegation (a first deploy's certificate validations wait for it): once the hosted zone of {domain} "
        "exists, point the parent domain's NS records for it at the zone's name servers (output edge.nameServers; "
        "docs/getting-started.md); with AWS credentials doctor checks it"
    )


def _name(dns_name: str) -> str:
    return dns_name.rstrip(".").lower()


def _public_zone(route53: Any, name: str) -> str | None:
    """The id of this account's public hosted zone named ``name``, if there is one."""
    zones = route53.list_hosted_zones_by_name(DNSName=name, MaxItems="1")["HostedZones"]
    return next(
        (zone["Id"] for zone in zones if _name(zone["Name"]) == name and not zone.get("Config", {}).get("PrivateZone")),
        None,
    )


def zone_delegation_report(route53: Any, domain: str, zone_id: str = "") -> Report:
    """The parent zone's NS records for ``domain`` must be the name servers of ``domain``'s hosted zone (``zone_id``,
    or the public zone of that name in this account): ACM validates the certificates through the zone, so a first
    deploy waits on them. Checked when the parent zone is in this account too; otherwise the line names the records
    to set at the parent's DNS host."""
    report = Report()
    domain = _name(domain)
    zone = zone_id or _public_zone(route53, domain)
    if zone is None:
        report.notes.append(_delegation_step(domain))
        return report
    name_servers = sorted(_name(ns) for ns in route53.get_hosted_zone(Id=zone)["DelegationSet"]["NameServers"])
    labels = domain.split(".")
    parents = [".".join(labels[index:]) for index in range(1, len(labels))]
    parent, parent_zone = next(
        ((name, found) for name in parents if (found := _public_zone(route53, name)) is not None), (None, None)
    )
    if parent is None or parent_zone is None:
        report.notes.append(
            f"zone delegation: the parent zone of {domain} is not in this account: check that its NS records for "
            f"{domain} are {', '.join(name_servers)}"
        )
        return report
    record_sets = route53.list_resource_record_sets(
        HostedZoneId=parent_zone, StartRecordName=domain, StartRecordType="NS", MaxItems="1"
    )["ResourceRecordSets"]
    delegated = sorted(
        _name(record["Value"])
        for record_set in record_sets
        if _name(record_set["Name"]) == domain and record_set["Type"] == "NS"
        for record in record_set.get("ResourceRecords", [])
    )
    if delegated != name_servers:
        report.problems.append(
            f"zone delegation: the parent zone {parent} delegates {domain} to {', '.join(delegated) or 'nothing'}, "
            f"not to its hosted zone's name servers {', '.join(name_servers)}: set that NS record (docs/edge.md)"
        )
    else:
        report.notes.append(f"zone delegation: {parent} delegates {domain} to its hosted zone")
    return report


# ------------------------------------------------------------------------------------------ all


def doctor(stack_file: Path, stack: str, *, with_credentials: bool = True) -> Report:
    config = read_stack_config(stack_file)
    project = yaml.safe_load((stack_file.parent / "Pulumi.yaml").read_text()) or {}
    report = Report(problems=example_value_problems(config, stack_file.name))
    report.problems += boolean_problems(
        config, project.get("config") or {}, str(project.get("name", "")), stack_file.name
    )
    if project.get("name") == CONNECTION_KEY.partition(":")[0] and not config.get(CONNECTION_KEY):
        report.problems.append(
            f"{stack_file.name}: {CONNECTION_KEY} is not set: deploy.yml's deploy jobs run on the stack's runner, "
            "which registers with GitHub through a connection you create once in the console "
            "(docs/cicd.md#the-deploy-runner)"
        )
    tools = tool_report()
    report.problems += tools.problems
    report.notes += tools.notes
    if with_credentials:
        credentials = credential_report(config, stack)
        report.problems += credentials.problems
        report.notes += credentials.notes
    return report


def main() -> int:
    """The cloud targets' prerequisite: one line and exit 1 without the Pulumi CLI."""
    if problem := require_pulumi_cli():
        print(f"problem: {problem}", file=sys.stderr)
        return Exit.FAILED
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
