"""The shop's static files in the assets bucket, on the offline plan of both stacks: every file at the very URL
the app links it under (the app's own StaticAssets decides), served like the app serves it, encrypted with the
bucket's key, and kept for the pods of older images."""

from __future__ import annotations

import hashlib
from pathlib import Path

from shop.static_files import static_files
from shop.web import StaticAssets

from stacks.offline.plan import Plan, PlannedResource
from tests.shop_plan import SHOP, rollout

OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
STATIC_DIR = Path(__file__).resolve().parents[1] / "app" / "shop" / "static"


def _objects(plan: Plan) -> dict[str, PlannedResource]:
    """The shop's uploads, by key."""
    objects = [r for r in plan.descendants(plan.one(SHOP)) if r.type == OBJECT]
    return {o.inputs["key"]: o for o in objects}


def _app_assets(plan: Plan) -> StaticAssets:
    """The app as the stack configures it: its links start with the CDN base URL, the shop's URL."""
    return StaticAssets(static_files(), plan.outputs["shopUrl"])


def test_every_static_file_is_in_the_bucket_at_the_url_the_app_links_it_under(plan: Plan) -> None:
    objects = _objects(plan)
    on_disk = sorted(path for path in STATIC_DIR.rglob("*") if path.is_file())
    assert on_disk and len(objects) == len(on_disk)
    assets = _app_assets(plan)
    for path in on_disk:
        name = path.relative_to(STATIC_DIR).as_posix()
        # Computed here from the bytes, not with the shared rule: the key is the content's, whoever computes it.
        key = f"static/{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}/{name}"
        assert assets.url(name) == f"{plan.outputs['shopUrl']}/{key}", name
        assert objects[key].inputs["source"] == {"path": f"app/shop/static/{name}"}, name


def test_the_bucket_serves_each_file_with_the_apps_own_headers(plan: Plan) -> None:
    assets = _app_assets(plan)
    for key, uploaded in _objects(plan).items():
        served = assets.response(key.removeprefix("static/"))
        assert served is not None and served.status_code == 200, key
        assert uploaded.inputs["contentType"] == served.headers["content-type"], key
        assert uploaded.inputs["cacheControl"] == served.headers["cache-control"], key
        assert uploaded.inputs["cacheControl"] == "public, max-age=31536000, immutable", key


def test_static_files_go_to_the_assets_bucket_encrypted_with_its_key(plan: Plan) -> None:
    bucket = plan.one("aws:s3/bucket:Bucket", "storage-assets").outputs["bucket"]
    encryption = plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "storage-assets-encryption",
    ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    data_key = plan.one("aws:kms/key:Key", "data-key").outputs["arn"]
    assert encryption["kmsMasterKeyId"] == data_key
    for key, uploaded in _objects(plan).items():
        assert uploaded.inputs["bucket"] == bucket, key
        assert uploaded.inputs["serverSideEncryption"] == "aws:kms", key
        assert uploaded.inputs["kmsKeyId"] == data_key and uploaded.inputs["bucketKeyEnabled"] is True, key


def test_older_versions_stay_in_the_bucket_for_the_pods_that_link_them(plan: Plan) -> None:
    """A changed file replaces its object in the stack (a new key) but S3 keeps the old one: pods of the previous
    image, during a rollout or after a rollback, still link it. Nothing in the bucket expires current objects."""
    for key, uploaded in _objects(plan).items():
        assert uploaded.options["retainOnDelete"] is True, key
        # Protection would make the replacement fail; delete-before-replace would leave a gap.
        assert uploaded.options["protect"] is False and uploaded.options["deleteBeforeReplace"] is False, key
    lifecycle = plan.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "storage-assets-lifecycle"
    ).inputs["rules"]
    expiring = [rule["id"] for rule in lifecycle if {"days", "date"} & set(rule.get("expiration") or {})]
    assert expiring == []


def test_the_rollout_starts_once_its_static_files_are_in_the_bucket(plan: Plan) -> None:
    uploads = {uploaded.urn for uploaded in _objects(plan).values()}
    assert uploads and uploads <= set(rollout(plan).dependencies)
