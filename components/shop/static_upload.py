"""The shop's static files in the assets bucket, which CloudFront serves ``/static/*`` from."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_aws as aws

from app.shop.static_files import IMMUTABLE, static_files

#: The program's working directory (the CLI runs it from the project directory): file assets are relative to it.
PROJECT_DIR = Path(__file__).resolve().parents[2]


def upload_static_files(
    prefix: str,
    *,
    bucket: pulumi.Input[str],
    key_arn: pulumi.Input[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> list[aws.s3.BucketObjectv2]:
    """Every file of app/shop/static in ``bucket`` at the key the app links it under, ``static/<version>/<name>``
    (one rule for both: app/shop/static_files.py), as ``<prefix>-<file name>``. The files are this checkout's: the
    pipeline deploys the image built from the same commit.

    A changed file is a new key, which replaces the old object in the stack; give ``retain_on_delete`` in ``opts``
    to keep the old object in S3 while pods of the previous image still link it.

    Encrypted like the bucket's default (SSE-KMS with ``key_arn`` and a bucket key), but explicitly: S3 applies the
    default only once it is configured, and these objects wait for the bucket alone, so on a stack's first deploy
    they could be written first and keep S3's own SSE-S3 for good.
    """
    return [
        aws.s3.BucketObjectv2(
            f"{prefix}-{file.name}",
            bucket=bucket,
            key=file.key,
            source=pulumi.FileAsset(file.path.relative_to(PROJECT_DIR).as_posix()),
            content_type=file.content_type,
            cache_control=IMMUTABLE,
            server_side_encryption="aws:kms",
            kms_key_id=key_arn,
            bucket_key_enabled=True,
            tags=tags,
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(), opts),  # a copy each
        )
        for file in static_files()
    ]
