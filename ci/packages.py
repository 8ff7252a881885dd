"""Install the Debian packages the test suites drive, where they are missing.

    python -m ci.packages

Under ``CI=true`` a test whose tool is missing fails instead of skipping, so every machine that runs ``make test``
in CI needs these: the GitHub test job, ``.ci/run`` and the Jenkins agents all install them through this module
(``make test-packages``). Uses ``apt-get`` (through ``sudo`` when not root) and only the standard library, so it
runs before the virtual environment exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from ci import runner
from stacks.exit_codes import Exit

#: Each command the tests run, and the Debian package that provides it.
TEST_PACKAGES = {
    "chromium": "chromium",  # app/tests/test_browser.py: the whole journey in a headless browser
    "redis-server": "redis-server",  # app/tests/test_redis.py: a test-owned Redis with TLS and AUTH
    "openssl": "openssl",  # app/tests/test_redis.py: that Redis's certificates
}


def missing_packages() -> list[str]:
    """The packages whose command is not on PATH."""
    return sorted({package for command, package in TEST_PACKAGES.items() if shutil.which(command) is None})


def install_commands(packages: list[str], *, as_root: bool) -> list[list[str]]:
    sudo = [] if as_root else ["sudo"]
    apt = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    return [[*apt, "update", "-qq"], [*apt, "install", "-y", "-qq", "--no-install-recommends", *packages]]


def main() -> int:
    packages = missing_packages()
    if not packages:
        print(f"Test packages present: {', '.join(sorted(set(TEST_PACKAGES.values())))}")
        return Exit.OK
    as_root = os.geteuid() == 0
    if not as_root and shutil.which("sudo") is None:
        runner.error(f"install {' '.join(packages)} as root: the tests need them", title="Test packages")
        return Exit.FAILED
    print(f"Installing {' '.join(packages)}", flush=True)
    for command in install_commands(packages, as_root=as_root):
        subprocess.run(command, check=True)  # noqa: S603 - fixed apt-get command lines
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
