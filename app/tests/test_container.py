"""The container contract, checked statically (no Docker engine here): pinned base, non-root, read-only ready."""

import re
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
DOCKERFILE = (APP_DIR / "Dockerfile").read_text()


def test_multi_stage_with_a_version_pinned_slim_base():
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert len(bases) == 2  # build stage + runtime stage
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", image)


def test_runs_as_numeric_non_root_user_with_the_shop_entrypoint():
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.MULTILINE)
    assert 'ENTRYPOINT ["python", "-m", "shop"]' in DOCKERFILE and 'CMD ["serve"]' in DOCKERFILE


def test_read_only_root_filesystem_needs_only_tmp():
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE and "compileall" in DOCKERFILE
    assert "SHOP_MEDIA_DIR=/tmp/shop-media" in DOCKERFILE and "HOME=/tmp" in DOCKERFILE


def test_no_secrets_baked_in_and_a_tight_build_context():
    for name in ("SESSION_SECRET", "ADMIN_TOKEN", "REDIS_PASSWORD", "DATABASE_URL", "AWS_SECRET"):
        assert name not in DOCKERFILE
    ignore = (APP_DIR / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:3] == ["*", "!requirements.txt", "!shop/"]


def test_requirements_are_fully_pinned():
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in (APP_DIR / name).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", line.strip()), line


def test_the_rds_ca_bundle_is_in_the_runtime_image_readable_by_the_shop_user():
    """SHOP_DB_SSL_ROOT_CERT (sslmode=verify-full) points here in the cluster."""
    bundle = re.search(r"^ADD --chmod=([0-7]+) (\S+) (\S+)$", DOCKERFILE, re.MULTILINE)
    assert bundle and bundle.group(2) == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert bundle.start() > DOCKERFILE.rindex("\nFROM ")  # the runtime stage, not only the build stage
    assert int(bundle.group(1), 8) & 0o004  # root's file, read by UID 10001
    assert not bundle.group(3).startswith("/tmp/")  # the cluster mounts an emptyDir over /tmp
