"""Fakes for the CI/CD bootstrap: GitHub's OIDC provider and the workload boundaries in IAM, the ECR repository."""

from __future__ import annotations

from stacks.offline.fakes import FakeResource, outputs


@outputs("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
def _oidc_provider(resource: FakeResource) -> dict:
    host = str(resource.inputs["url"]).removeprefix("https://")
    arn = resource.arn("iam", f"oidc-provider/{host}", regional=False)
    return {"id": arn, "arn": arn}


@outputs("aws:iam/policy:Policy")
def _iam_policy(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=128)
    arn = resource.arn("iam", f"policy{resource.inputs.get('path', '/')}{name}", regional=False)
    return {"id": arn, "arn": arn, "name": name, "policyId": f"ANPA{resource.hex_id(17).upper()}"}


@outputs("aws:ecr/repository:Repository")
def _ecr_repository(resource: FakeResource) -> dict:
    name = resource.physical_name()
    cloud = resource.cloud
    return {
        "id": name,
        "name": name,
        "arn": resource.arn("ecr", f"repository/{name}"),
        "registryId": cloud.account_id,
        "repositoryUrl": f"{cloud.account_id}.dkr.ecr.{cloud.region}.amazonaws.com/{name}",
    }
