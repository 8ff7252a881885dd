"""`python -m stacks doctor STACK`: every example value of both stack files is caught, one line per key; the tools
and credential checks report as lines; the cloud targets' prerequisite fails in one line without the Pulumi CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from stacks import doctor
from stacks.__main__ import main
from stacks.exit_codes import Exit

ROOT = Path(__file__).resolve().parents[1]
#: Every example value the stack files ship with, by file and key (the placeholders docs/getting-started.md lists).
SHIPPED_EXAMPLES = {
    "staging": {
        "shop-platform:domain",
        "shop-platform:eksPublicAccessCidrs",
        "shop-platform:edgeAdminAllowedCidrs",
        "shop-platform:shopImageTag",
        "shop-platform:shopImageDigest",
        "shop-platform:runnerConnectionArn",
        "shop-platform:runnerRepository",
    },
    "prod": {
        "shop-platform:domain",
        "shop-platform:obsAlarmEmails",
        "shop-platform:shopImageTag",
        "shop-platform:shopImageDigest",
        "shop-platform:runnerConnectionArn",
        "shop-platform:runnerRepository",
    },
}
REAL_TAG = hashlib.sha1(b"shop").hexdigest()  # noqa: S324 - a commit-shaped value, not security
REAL_DIGEST = "sha256:" + hashlib.sha256(b"shop").hexdigest()
CONNECTION = "arn:aws:codeconnections:eu-west-1:210987654321:connection/4b1d5e2c-0f3a-4c6e-9d7b-2a8e6f1c3b5d"


def _flagged_keys(config: dict[str, Any], name: str = "Pulumi.test.yaml") -> set[str]:
    return {line.split(": ")[1] for line in doctor.example_value_problems(config, name)}


@pytest.mark.parametrize("stack", sorted(SHIPPED_EXAMPLES))
def test_doctor_names_every_example_value_of_the_stack_file_with_its_key_and_file(stack: str) -> None:
    name = f"Pulumi.{stack}.yaml"
    problems = doctor.example_value_problems(doctor.read_stack_config(ROOT / name), name)
    assert {line.split(": ")[1] for line in problems} == SHIPPED_EXAMPLES[stack]
    assert all(line.startswith(f"{name}: shop-platform:") and "\n" not in line for line in problems)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("shop-platform:domain", "shop.example.org"),
        ("shop-platform:domain", "shop.test"),
        ("shop-platform:obsAlarmEmails", ["oncall@acme.io", "ops@team.example.net"]),
        ("shop-platform:eksPublicAccessCidrs", ["10.1.0.0/16", "192.0.2.0/24"]),
        ("shop-platform:eksPublicAccessCidrs", ["198.51.100.7/32"]),
        ("shop-platform:edgeAdminAllowedCidrs", ["203.0.112.0/23"]),
        ("shop-platform:eksPrivateAccessCidrs", ["2001:db8::/48"]),
        ("shop-platform:shopImageRepository", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/app"),
        ("shop-platform:shopImageDigest", "sha256:" + "0" * 64),
        ("shop-platform:shopImageDigest", "sha256:" + "0123456789abcdef" * 4),
        ("shop-platform:shopImageTag", "deadbeef" * 5),
        ("shop-platform:runnerConnectionArn", "arn:aws:codeconnections:eu-west-1:123456789012:connection/4b1d5e2c"),
        ("shop-platform:runnerRepository", "example-org/shop-platform"),
        ("shop-bootstrap:githubRepositoryId", 100000001),
        ("shop-bootstrap:githubReviewerTeams", [4242, 200000001]),
    ],
)
def test_each_kind_of_example_value_is_caught(key: str, value: Any) -> None:
    assert _flagged_keys({key: value}) == {key}


def test_real_values_pass() -> None:
    config = {
        "aws:region": "eu-west-1",
        "shop-platform:domain": "shop.acme.io",
        "shop-platform:vpcCidr": "10.40.0.0/16",
        "shop-platform:eksPublicAccessCidrs": ["198.51.101.0/24", "8.8.8.8/32"],
        "shop-platform:eksAdminRoles": ["platform-admin"],
        "shop-platform:obsAlarmEmails": ["oncall@acme.io"],
        "shop-platform:shopImageRepository": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/shop/app",
        "shop-platform:shopImageTag": REAL_TAG,
        "shop-platform:shopImageDigest": REAL_DIGEST,
        "shop-platform:runnerConnectionArn": "arn:aws:codeconnections:eu-west-1:210987654321:connection/4b1d5e2c",
        "shop-platform:runnerRepository": "acme/shop-platform",
        "shop-platform:dbInstanceClass": "db.t4g.small",
        "shop-platform:dbMultiAz": True,
        "shop-platform:vpcAzCount": 3,
        "shop-bootstrap:githubRepositoryId": 100000002,
        "shop-bootstrap:githubReviewerTeams": [200000002, 4242],
    }
    assert doctor.example_value_problems(config, "Pulumi.prod.yaml") == []


def test_computed_hashes_are_not_taken_for_made_up_ones() -> None:
    """The heuristic's false alarms on real SHA-256 and SHA-1 values: about 1 in 10,000 (measured 1e-4 and 5e-5
    over 20,000 each); none in these 2,000."""
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1000)]
    hashes += [hashlib.sha1(str(i).encode()).hexdigest() for i in range(1000)]  # noqa: S324
    assert [value for value in hashes if doctor.made_up_hex(value)] == []


def _stack_dir(tmp_path: Path, text: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: shop-platform\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    return tmp_path


@pytest.fixture
def tools_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tool present at the SDK's version, no credentials: only the stack file decides."""
    monkeypatch.setattr(doctor, "tool_report", lambda: doctor.Report(notes=["tools ok"]))
    monkeypatch.setattr(doctor, "credential_report", lambda config, stack: doctor.Report(notes=["no credentials"]))


@pytest.mark.usefixtures("tools_ok")
def test_the_command_exits_1_with_one_line_per_problem_and_0_when_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = f"  shop-platform:runnerConnectionArn: {CONNECTION}\n"
    project = _stack_dir(tmp_path, "config:\n  shop-platform:domain: shop.example.com\n" + connection)
    assert main(["doctor", "dev", "--project-dir", str(project)]) == Exit.FAILED
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("problem: Pulumi.dev.yaml: shop-platform:domain: 'shop.example.com'")
    assert len(err) == 2 and err[1].startswith("1 problem(s)")

    (project / "Pulumi.dev.yaml").write_text("config:\n  shop-platform:domain: shop.acme.io\n" + connection)
    assert main(["doctor", "dev", "--project-dir", str(project)]) == Exit.OK
    assert capsys.readouterr().out == "ok: tools ok\nok: no credentials\n"


@pytest.mark.usefixtures("tools_ok")
def test_the_bootstraps_example_repository_and_ids_are_caught_and_it_needs_no_runner() -> None:
    """Left in place, the example repository id makes the deploy roles trust whichever repository has it."""
    report = doctor.doctor(ROOT / "bootstrap" / "Pulumi.ci.yaml", "ci", with_credentials=False)
    assert {line.split(": ")[1] for line in report.problems} == {
        "shop-bootstrap:githubRepository",
        "shop-bootstrap:githubRepositoryId",
        "shop-bootstrap:githubReviewerTeams",
    }


@pytest.mark.usefixtures("tools_ok")
@pytest.mark.parametrize(("stack", "text"), [("nope", ""), ("dev", "config: [\n"), ("dev", "config: 3\n")])
def test_bad_input_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack: str, text: str
) -> None:
    project = _stack_dir(tmp_path, text)
    assert main(["doctor", stack, "--project-dir", str(project)]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_tools_report_the_cli_version_against_the_sdk_and_missing_tools() -> None:
    sdk = doctor.pulumi_sdk_version()
    present = doctor.tool_report(which=lambda name: f"/usr/bin/{name}", run=lambda command: "v3.1.0\n")
    assert present.problems == [] and present.notes == [f"Pulumi CLI 3.1.0, SDK {sdk}: the pinned pair is CLI {sdk}"]
    matching = doctor.tool_report(which=lambda name: f"/usr/bin/{name}", run=lambda command: f"v{sdk}\n")
    assert matching.notes == [f"Pulumi CLI {sdk} matches the SDK"]

    absent = doctor.tool_report(which=lambda name: None, run=lambda command: pytest.fail("nothing to run"))
    assert [line.split(":")[0] for line in absent.problems] == [
        "the Pulumi CLI is not on PATH",
        "the AWS CLI is not on PATH",
    ]
    assert sdk in absent.problems[0]
    assert absent.notes[0].startswith("npm (Node.js) is not on PATH: `make lint`")


class _FakeSession:
    """boto3.Session's surface the doctor uses: credentials, STS's caller identity, IAM's get_role."""

    def __init__(self, credentials: object | None, roles: set[str]) -> None:
        self.credentials, self.roles, self.asked = credentials, roles, []
        missing = type("NoSuchEntityException", (Exception,), {})
        self.iam = SimpleNamespace(exceptions=SimpleNamespace(NoSuchEntityException=missing), get_role=self._get_role)

    def get_credentials(self) -> object | None:
        return self.credentials

    def _get_role(self, RoleName: str) -> dict[str, Any]:
        self.asked.append(RoleName)
        if RoleName not in self.roles:
            raise self.iam.exceptions.NoSuchEntityException(RoleName)
        return {}

    def client(self, service: str) -> Any:
        if service == "sts":
            return SimpleNamespace(get_caller_identity=lambda: {"Account": "210987654321"})
        if service == "s3":
            return SimpleNamespace(head_bucket=self._head_bucket)
        return self.iam

    def _head_bucket(self, Bucket: str) -> dict[str, Any]:
        if Bucket != "shop-ci-state":
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadBucket")
        return {}


def test_without_credentials_the_cloud_checks_are_skipped_in_one_line() -> None:
    report = doctor.credential_report({}, "prod", session=_FakeSession(None, set()))
    assert report.problems == [] and report.notes == ["no AWS credentials: skipped the account and IAM role checks"]


def test_with_credentials_every_cluster_access_role_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    config = {
        "shop-platform:eksAdminRoles": ["platform-admin"],
        "shop-platform:eksReadOnlyRoles": ["shop-ci-preview-prod"],
    }
    session = _FakeSession(object(), {"shop-ci-deploy-prod", "shop-ci-preview-prod"})
    report = doctor.credential_report(config, "prod", session=session)
    assert session.asked == ["shop-ci-deploy-prod", "platform-admin", "shop-ci-preview-prod"]
    assert report.notes == ["AWS credentials for account 210987654321"]
    assert len(report.problems) == 1 and report.problems[0].startswith(
        "IAM role platform-admin does not exist in account 210987654321"
    )


def test_the_cloud_targets_prerequisite_fails_in_one_line_without_the_pulumi_cli(tmp_path: Path) -> None:
    """What `make cloud-prerequisites` runs: a PATH without `pulumi` gives one line and exit 1, not a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "stacks.doctor"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == Exit.FAILED
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("problem: the Pulumi CLI is not on PATH: install ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "target", ["cloud-preview", "image-config", "deploy", "rollout-status", "rollback", "alarms", "smoke"]
)
def test_cloud_targets_stop_at_the_prerequisite_without_the_pulumi_cli(tmp_path: Path, target: str) -> None:
    """`make deploy` and the other targets that run `pulumi` stop before their recipe: the prerequisite's line, no
    traceback. (The environment is taken as built: `-o` keeps make from reinstalling it; PATH on make's command line
    is the recipes' PATH.)"""
    built = ["-o", ".venv/.installed", "-o", "policies/.venv/.installed", "-o", ".venv/.locked"]
    result = subprocess.run(
        ["make", "-s", *built, target, "STACK=staging", f"PATH={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("problem: the Pulumi CLI is not on PATH: install "), result.stderr
    assert "Traceback" not in result.stderr and "ci." not in result.stdout


def test_make_runs_the_prerequisite_and_help_lists_the_documented_targets() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "cloud-prerequisites"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert ".venv/bin/python -m stacks.doctor\n" in dry_run.stdout
    listed = subprocess.run(["make", "-s", "help"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    targets = [line.split()[0] for line in listed.splitlines()]
    assert {"preview", "cost", "test", "shop", "help", "doctor"} <= set(targets)


@pytest.mark.parametrize(
    ("url", "problems"),
    [
        ("s3://shop-ci-state?region=eu-west-1&awssdk=v2", []),
        ("", []),
        ("https://api.pulumi.com", []),
        ("s3://shop-ci-gone?region=eu-west-1", ["PULUMI_BACKEND_URL: the state bucket shop-ci-gone answers 404"]),
    ],
)
def test_with_credentials_the_self_managed_state_bucket_must_exist(
    monkeypatch: pytest.MonkeyPatch, url: str, problems: list[str]
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", url)
    session = _FakeSession(object(), {"shop-ci-deploy-prod"})
    report = doctor.credential_report({}, "prod", session=session)
    assert len(report.problems) == len(problems)
    assert all(problem.startswith(expected) for problem, expected in zip(report.problems, problems, strict=True))


@pytest.mark.usefixtures("tools_ok")
def test_a_string_for_a_boolean_setting_is_a_problem_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _stack_dir(tmp_path, 'config:\n  shop-platform:dbMultiAz: "no"\n  shop-platform:vpcAzCount: 3\n')
    (project / "Pulumi.yaml").write_text(
        "name: shop-platform\nconfig:\n  dbMultiAz:\n    type: boolean\n  vpcAzCount:\n    type: integer\n"
    )
    assert main(["doctor", "dev", "--project-dir", str(project)]) == Exit.FAILED
    assert capsys.readouterr().err.splitlines()[0] == (
        "problem: Pulumi.dev.yaml: shop-platform:dbMultiAz: 'no' is a string; write true or false without quotes"
    )


@pytest.mark.parametrize("stack", sorted(SHIPPED_EXAMPLES))
def test_the_shipped_stack_files_give_booleans_as_booleans(stack: str) -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    config = doctor.read_stack_config(ROOT / f"Pulumi.{stack}.yaml")
    assert doctor.boolean_problems(config, project["config"], project["name"], f"Pulumi.{stack}.yaml") == []


def test_make_preview_installs_only_what_a_preview_needs() -> None:
    """The program's and the policy pack's dependencies and jsonschema at the dev pin: no test tools, browser
    automation or linters (measured: 476 MB and 29 s from the package index, against 1.2 GB for the full set)."""
    dry_run = subprocess.run(
        ["make", "-n", "-W", "requirements.txt", "-o", "policies/.venv/.installed", "preview", "cost"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    (install,) = [line for line in dry_run.replace("\\\n", " ").splitlines() if "pip install" in line]
    assert "-r requirements.txt -r policies/requirements.txt" in install and "-r requirements-dev.txt" not in install
    pin = next(
        line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.startswith("jsonschema==")
    )
    assert install.split()[-1] == pin


# ------------------------------------------------------------------------------------------ zone delegation

ZONE_NS = ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.net", "ns-4.awsdns-04.com"]


def _zones(name: str, zone_id: str) -> dict[str, Any]:
    zones = [{"Id": f"/hostedzone/{zone_id}", "Name": f"{name}.", "CallerReference": "x"}] if zone_id else []
    return {"HostedZones": zones, "IsTruncated": False, "MaxItems": "1"}


def _route53(domain: str, *, zone: bool, parent: bool, delegated: list[str] | None) -> tuple[Any, Stubber]:
    """A Route 53 client answering the doctor's calls in order, for ``domain`` = shop.acme.io under acme.io."""
    client = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response(
        "list_hosted_zones_by_name", _zones(domain, "ZSHOP" if zone else ""), {"DNSName": domain, "MaxItems": "1"}
    )
    if zone:
        stubber.add_response(
            "get_hosted_zone",
            {
                "HostedZone": {"Id": "/hostedzone/ZSHOP", "Name": f"{domain}.", "CallerReference": "x"},
                "DelegationSet": {"NameServers": [f"{ns}." for ns in reversed(ZONE_NS)]},
            },
            {"Id": "/hostedzone/ZSHOP"},
        )
        stubber.add_response(
            "list_hosted_zones_by_name",
            _zones("acme.io", "ZACME" if parent else ""),
            {"DNSName": "acme.io", "MaxItems": "1"},
        )
        if not parent:
            stubber.add_response("list_hosted_zones_by_name", _zones("io", ""), {"DNSName": "io", "MaxItems": "1"})
        else:
            records = [
                {
                    "Name": f"{domain}.",
                    "Type": "NS",
                    "TTL": 172800,
                    "ResourceRecords": [{"Value": v} for v in delegated or []],
                }
            ]
            stubber.add_response(
                "list_resource_record_sets",
                {"ResourceRecordSets": records if delegated else [], "IsTruncated": False, "MaxItems": "1"},
                {
                    "HostedZoneId": "/hostedzone/ZACME",
                    "StartRecordName": domain,
                    "StartRecordType": "NS",
                    "MaxItems": "1",
                },
            )
    stubber.activate()
    return client, stubber


def test_a_delegation_to_the_zones_name_servers_passes() -> None:
    client, stubber = _route53("shop.acme.io", zone=True, parent=True, delegated=[f"{ns}." for ns in ZONE_NS])
    report = doctor.zone_delegation_report(client, "shop.acme.io")
    stubber.assert_no_pending_responses()
    assert report.problems == [] and report.notes == [
        "zone delegation: acme.io delegates shop.acme.io to its hosted zone"
    ]


@pytest.mark.parametrize("delegated", [[], ["ns-9.awsdns-09.org.", "ns-8.awsdns-08.net."]])
def test_a_missing_or_stale_delegation_is_a_problem_naming_both_sets(delegated: list[str]) -> None:
    client, stubber = _route53("shop.acme.io", zone=True, parent=True, delegated=delegated)
    report = doctor.zone_delegation_report(client, "shop.acme.io")
    stubber.assert_no_pending_responses()
    (problem,) = report.problems
    assert problem.startswith("zone delegation: the parent zone acme.io delegates shop.acme.io to ")
    assert ("to nothing" in problem) == (not delegated)
    assert f"name servers {', '.join(sorted(ZONE_NS))}" in problem


def test_a_parent_outside_the_account_gets_the_records_to_set() -> None:
    client, stubber = _route53("shop.acme.io", zone=True, parent=False, delegated=None)
    report = doctor.zone_delegation_report(client, "shop.acme.io")
    stubber.assert_no_pending_responses()
    assert report.problems == []
    assert report.notes == [
        f"zone delegation: the parent zone of shop.acme.io is not in this account: check that its NS records for "
        f"shop.acme.io are {', '.join(sorted(ZONE_NS))}"
    ]


def test_before_the_zone_exists_and_without_credentials_the_step_is_printed() -> None:
    client, stubber = _route53("shop.acme.io", zone=False, parent=False, delegated=None)
    (step,) = doctor.zone_delegation_report(client, "shop.acme.io").notes
    stubber.assert_no_pending_responses()
    assert step.startswith("zone delegation (a first deploy's certificate validations wait for it)")
    offline = doctor.credential_report(
        {"shop-platform:domain": "shop.acme.io"}, "prod", session=_FakeSession(None, set())
    )
    assert offline.problems == [] and offline.notes[1] == step


# ------------------------------------------------------------------------------------------ the runner's connection


def test_a_stack_file_without_the_runners_connection_is_a_problem(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    config = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    del config["config"]["shop-platform:runnerConnectionArn"]
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(config))
    report = doctor.doctor(tmp_path / "Pulumi.prod.yaml", "prod", with_credentials=False)
    assert [p for p in report.problems if "runnerConnectionArn" in p] == [
        "Pulumi.prod.yaml: shop-platform:runnerConnectionArn is not set: deploy.yml's deploy jobs run on the stack's "
        "runner, which registers with GitHub through a connection you create once in the console "
        "(docs/cicd.md#the-deploy-runner)"
    ]


@pytest.mark.parametrize(("status", "problems"), [("AVAILABLE", 0), ("PENDING", 1)])
def test_with_credentials_the_runners_connection_must_be_available(status: str, problems: int) -> None:
    client = boto3.client("codeconnections", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_response("get_connection", {"Connection": {"ConnectionStatus": status}}, {"ConnectionArn": CONNECTION})
    stubber.activate()
    session = SimpleNamespace(client=lambda service, region_name: client if service == "codeconnections" else None)
    found = doctor._connection_problems(session, CONNECTION)
    stubber.assert_no_pending_responses()
    assert len(found) == problems
    assert all(problem.startswith("shop-platform:runnerConnectionArn: the connection is PENDING") for problem in found)
