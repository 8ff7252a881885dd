"""The ECR repository of the shop image: immutable tags, scan on push, a customer-managed key, a lifecycle policy."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.account import Account
from components.kms import customer_managed_key
from components.naming import Naming
from stacks.settings import KeySettings, RegistrySettings

COMPONENT = "registry"
#: Tag prefix of images that ran in a protected stack (ci/release.py adds it); kept longest, as rollback targets.
RELEASE_TAG_PREFIX = "release-"


def lifecycle_policy(settings: RegistrySettings) -> dict[str, Any]:
    """Expire old images, never a recent release. ECR lets no lower-priority rule expire an image that matches a
    higher-priority rule's tags, so the newest releases survive rule 3 however many images are pushed after them."""
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Keep the newest {settings.keep_releases} released images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [RELEASE_TAG_PREFIX],
                    "countType": "imageCountMoreThan",
                    "countNumber": settings.keep_releases,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Expire untagged images after {settings.untagged_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": settings.untagged_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": f"Keep the newest {settings.keep_images} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": settings.keep_images,
                },
                "action": {"type": "expire"},
            },
        ]
    }


@dataclass(frozen=True, kw_only=True)
class ImageRegistryArgs:
    settings: RegistrySettings
    keys: KeySettings
    naming: Naming
    account: Account


class ImageRegistry(pulumi.ComponentResource):
    """One repository for every stack: an image is built once, tested in staging and promoted by digest."""

    repository_name: str
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ImageRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("shop:cicd:ImageRegistry", name, None, opts)
        naming = args.naming
        self.repository_name = f"{naming.prefix}/app"
        key = customer_managed_key(
            f"{name}-key",
            alias=f"alias/{naming.physical('images')}",
            description=f"{naming.physical('images')}: images in ECR {self.repository_name}",
            settings=args.keys,
            account=args.account,
            tags=naming.tags(COMPONENT, Name=naming.physical("images")),
            parent=self,
            protect=True,  # every stack's running image is encrypted with it
        )
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=self.repository_name,
            # A tag names one image forever: the SHA that was tested is the SHA that ships.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=key.arn)
            ],
            force_delete=False,
            tags=naming.tags(COMPONENT, Name=self.repository_name),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(lifecycle_policy(args.settings)),
            opts=pulumi.ResourceOptions(parent=repository),
        )
        self.repository_url = repository.repository_url
        self.repository_arn = repository.arn
        self.key_arn = key.arn
        self.register_outputs(
            {"repository_url": self.repository_url, "repository_arn": self.repository_arn, "key_arn": self.key_arn}
        )
