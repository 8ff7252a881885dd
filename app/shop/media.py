"""Product images: S3 when a bucket is configured, local files otherwise; URLs on the CDN base."""

from __future__ import annotations

import asyncio
import hashlib
import re
from html import escape
from pathlib import Path
from typing import Any, Protocol

MAX_IMAGE_BYTES = 5 * 1024 * 1024
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*)*$")
# Raster formats only: an uploaded SVG could carry script.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
)
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
}


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None: ...


def valid_key(key: str) -> bool:
    return len(key) <= 200 and ".." not in key and bool(_KEY_RE.match(key))


def content_type_for(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


def image_key(sku: str, data: bytes) -> str | None:
    """Content-addressed key, so every URL can be cached forever; None when the bytes are no image we accept."""
    ext = _sniff(data)
    if ext is None:
        return None
    return f"products/{sku.lower()}-{hashlib.sha256(data).hexdigest()[:16]}.{ext}"


def _sniff(data: bytes) -> str | None:
    for signature, ext, _ in _SIGNATURES:
        if data.startswith(signature):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.root / key
        await asyncio.to_thread(_write, path, data)

    async def get(self, key: str) -> bytes | None:
        path = self.root / key
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):  # e.g. /media/<existing file>/x
            return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class S3MediaStore:
    def __init__(self, bucket: str, prefix: str, region: str | None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            import boto3  # only S3-backed deployments need it; it is slow to import

            client = boto3.client("s3", region_name=region)
        self.client = client

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=self.prefix + key,
            Body=data,
            ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable",
        )

    async def get(self, key: str) -> bytes | None:
        try:
            response = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self.prefix + key)
        except self.client.exceptions.NoSuchKey:
            return None
        return await asyncio.to_thread(response["Body"].read)


_PALETTE = ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6d597a", "#355070", "#b56576")


def placeholder_svg(sku: str, name: str) -> bytes:
    """A generated product image for seed data: a colour from the SKU and the product name."""
    colour = _PALETTE[int(hashlib.sha256(sku.encode()).hexdigest(), 16) % len(_PALETTE)]
    label = escape(name[:28])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="600" viewBox="0 0 600 600" '
        f'role="img" aria-label="{label}">'
        f'<rect width="600" height="600" fill="{colour}"/>'
        '<circle cx="300" cy="250" r="120" fill="#ffffff" fill-opacity="0.18"/>'
        '<text x="300" y="470" font-family="system-ui, sans-serif" font-size="40" fill="#ffffff" '
        f'text-anchor="middle">{label}</text></svg>'
    ).encode()
