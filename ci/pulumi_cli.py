"""Install the Pulumi CLI, checked against the SHA-256 its release publishes, into a fresh directory.

    python -m ci.pulumi_cli VERSION DEST     # prints DEST/bin, where `pulumi` now is

pulumi/actions downloads the archive without checking it and skips the download altogether when any ``pulumi`` of
the right version is already on ``PATH`` (src/libs/pulumi-cli.ts, downloadCli); on a runner something else could
have left there. This downloads ``pulumi-v<VERSION>-linux-x64.tar.gz`` (or the runner's platform) and the release's
``pulumi-<VERSION>-checksums.txt`` from github.com/pulumi/pulumi over TLS, refuses an archive whose SHA-256 differs
from the published one (or that the file does not list), and unpacks it into ``DEST``, which must not exist yet.
The workflows put ``DEST/bin`` first on ``PATH`` (``make pulumi-cli``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import platform
import re
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from stacks.exit_codes import Exit

RELEASES = "https://github.com/pulumi/pulumi/releases/download"
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
#: Pulumi's platform names by (system, machine).
_PLATFORMS = {
    ("Linux", "x86_64"): "linux-x64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "arm64"): "darwin-arm64",
}

Fetch = Callable[[str], bytes]


class VerificationError(Exception):
    """The archive is not the one the release published."""


def _fetch(url: str) -> bytes:
    if not url.startswith("https://"):
        raise ValueError(f"refusing a download without TLS: {url}")
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 (https only, checked above)
        return response.read()


def archive_name(version: str, platform_name: str) -> str:
    return f"pulumi-v{version}-{platform_name}.tar.gz"


def urls(version: str, platform_name: str) -> tuple[str, str]:
    """The archive's and the checksums file's URLs (the checksums file name has no "v")."""
    base = f"{RELEASES}/v{version}"
    return f"{base}/{archive_name(version, platform_name)}", f"{base}/pulumi-{version}-checksums.txt"


def published_sha256(checksums: str, name: str) -> str:
    """The SHA-256 the checksums file (``<hex>  <file name>`` lines) lists for ``name``."""
    found = {
        parts[1].lstrip("*"): parts[0].lower()
        for line in checksums.splitlines()
        if len(parts := line.split()) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0])
    }
    if name not in found:
        raise VerificationError(f"the release's checksums list no {name}")
    return found[name]


def install(version: str, dest: Path, *, fetch: Fetch = _fetch, platform_name: str | None = None) -> Path:
    """Download, verify and unpack; returns the directory that holds ``pulumi``."""
    if not _VERSION.match(version):
        raise ValueError(f"not a release version: {version!r}")
    if dest.exists():
        raise FileExistsError(f"{dest} exists: install into a fresh directory, never over what is there")
    platform_name = platform_name or _PLATFORMS[(platform.system(), platform.machine())]
    archive_url, checksums_url = urls(version, platform_name)
    expected = published_sha256(fetch(checksums_url).decode(), archive_name(version, platform_name))
    archive = fetch(archive_url)
    actual = hashlib.sha256(archive).hexdigest()
    if actual != expected:
        raise VerificationError(f"{archive_url}: SHA-256 {actual}, the release publishes {expected}")
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
    # The archive holds pulumi/pulumi, pulumi/pulumi-language-python, ...
    bin_dir = dest / "bin"
    (dest / "pulumi").rename(bin_dir)
    return bin_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.pulumi_cli", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("version", help="e.g. 3.272.0 (requirements.txt's pulumi pin)")
    parser.add_argument("dest", type=Path, help="a directory that does not exist yet")
    args = parser.parse_args(argv)
    try:
        print(install(args.version, args.dest))
    except (VerificationError, FileExistsError, ValueError) as error:
        print(f"pulumi-cli: {error}", file=sys.stderr)
        return Exit.FAILED
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
