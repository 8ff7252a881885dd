"""Static files addressed by their content: ``/static/<version>/<name>``, where the version is the first 12 hex
digits of the file's SHA-256. A changed file gets a new URL, so every URL may be cached forever, and the files of
every image ever deployed can sit side by side in the assets bucket for the pods (and rollbacks) still using them.

Standard library only, on purpose: the deployment (components/shop/static.py) imports this module to upload each
file under the key the app links to, without importing the app's web stack.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
VERSION_LENGTH = 12
#: For a versioned URL: its content can never change.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Python's built-in table only: the system's mime.types differs between the build machine and the image.
_TYPES = mimetypes.MimeTypes()


@dataclass(frozen=True)
class StaticFile:
    name: str
    """Path below the static directory, with ``/`` separators (``shop.css``)."""
    path: Path
    body: bytes
    version: str
    content_type: str

    @property
    def key(self) -> str:
        """``static/<version>/<name>``: the URL path without its leading ``/`` and the file's assets-bucket key."""
        return f"static/{self.version}/{self.name}"


def content_version(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:VERSION_LENGTH]


def content_type(name: str) -> str:
    kind = _TYPES.guess_type(name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def static_files(root: Path = STATIC_DIR) -> list[StaticFile]:
    """Every file below ``root``, sorted by name."""
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            name = path.relative_to(root).as_posix()
            body = path.read_bytes()
            files.append(StaticFile(name, path, body, content_version(body), content_type(name)))
    return files
