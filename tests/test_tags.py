"""Every taggable resource of both stacks carries the standard tags, set explicitly (visible to reviews)."""

from __future__ import annotations

import importlib
import inspect
import keyword
from functools import cache

from stacks.offline.plan import Plan

REQUIRED = ("project", "stack", "component", "managed-by")
SDK_PACKAGES = {"aws": "pulumi_aws", "eks": "pulumi_eks"}


@cache
def taggable(type_token: str) -> bool:
    """Whether the SDK class of ``type_token`` (e.g. ``aws:ec2/vpc:Vpc``) accepts a ``tags`` argument."""
    package, module_path, class_name = type_token.split(":")
    if package not in SDK_PACKAGES:
        return False
    module_name = module_path.split("/")[0]
    if keyword.iskeyword(module_name):  # the SDK's module for aws:lambda/... is pulumi_aws.lambda_
        module_name += "_"
    module = importlib.import_module(SDK_PACKAGES[package] + ("" if module_name == "index" else f".{module_name}"))
    args_class = getattr(module, f"{class_name}Args", None)
    return args_class is not None and "tags" in inspect.signature(args_class.__init__).parameters


def test_taggable_detection_knows_the_sdk() -> None:
    assert taggable("aws:ec2/vpc:Vpc")
    assert not taggable("aws:ec2/route:Route")
    assert not taggable("random:index/randomPassword:RandomPassword")


def test_every_taggable_resource_has_the_standard_tags(plan: Plan) -> None:
    missing = []
    for resource in plan.resources:
        if taggable(resource.type):
            tags = resource.inputs.get("tags") or {}
            absent = [key for key in REQUIRED if not tags.get(key)]
            if absent:
                missing.append(f"{resource.type} {resource.name}: {absent}")
    assert missing == []


def test_tags_name_the_stack_and_the_owning_component(plan: Plan) -> None:
    for resource in plan.resources:
        if taggable(resource.type):
            tags = resource.inputs["tags"]
            assert tags["stack"] == plan.stack
            assert tags["project"] == "shop"
            assert tags["managed-by"] == "pulumi"
            assert tags["component"], resource.name
