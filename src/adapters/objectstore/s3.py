"""S3 object store (``GHARART_OBJECT_STORE=s3://bucket/prefix``), on aioboto3/aiobotocore.

Any S3-compatible server works (AWS S3, SeaweedFS, MinIO, Ceph RGW, R2...). Endpoint, region
and credentials come from ``GHARART_S3_ENDPOINT``, ``GHARART_S3_REGION``,
``GHARART_S3_ACCESS_KEY_ID`` and ``GHARART_S3_SECRET_ACCESS_KEY``; when the key settings are
unset the standard AWS chain applies (``AWS_*`` variables, instance roles...).

Guarantees, matching the other adapters:

* **Atomic writes.** A body that fits in one part is buffered, hashed and sent as a single
  ``PutObject`` only after the size and digest checks pass. A larger body goes through a
  multipart upload: parts are streamed as they fill (at most two parts in memory), and the
  upload is *completed* only after the last byte has been hashed and checked. Oversize,
  digest mismatch, a failing source stream or cancellation **abort** the multipart upload,
  so nothing (not even hidden parts) is left behind and an earlier version of the key stays.
* **Ranged reads** use HTTP ``Range``; a start past the end yields nothing (S3's 416 is not
  an error here), a missing key raises ``KeyError``.
* The SHA-256 of every object written by ``put_bytes``/``put_stream`` (single part) is kept
  in the ``x-amz-meta-sha256`` metadata, so ``head`` can report it.
* ``download_url`` presigns a ``GetObject`` with the response headers to serve, so allowed public
  downloads can be redirected to the bucket (``GHARART_S3_PRESIGNED_DOWNLOADS``).

One aiobotocore client is opened per event loop, lazily (the store is built before the
server's loop starts); ``aclose()`` closes the current loop's client.

Why aioboto3 rather than obstore: obstore's streaming ``put`` cannot abort the multipart
upload it starts when the source fails, so a refused upload would leave hidden parts in the
bucket. See docs/decisions/scale-s3-client.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import urllib.parse
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any

from gharart_core.shared.errors import FieldError, TooLarge, ValidationFailed
from gharart_core.shared.ports import ObjectInfo

from .keys import check_key

__all__ = ["S3ObjectStore", "S3Settings"]

MIN_PART = 5 * 1024 * 1024  # S3's minimum size for every part but the last
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchObject"}


class S3Settings:
    """Connection settings, from ``GHARART_S3_*`` (see docs/configuration.md)."""

    def __init__(self, *, endpoint_url: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 part_size: int = 8 * 1024 * 1024, path_style: bool | None = None) -> None:
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self.access_key_id = access_key_id or None
        self.secret_access_key = secret_access_key or None
        self.part_size = max(MIN_PART, int(part_size))
        # Path-style addressing by default when a custom endpoint is set (SeaweedFS, MinIO...).
        self.path_style = (self.endpoint_url is not None) if path_style is None else path_style

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Settings:
        env = os.environ if env is None else env

        def g(name: str) -> str | None:
            return env.get(f"GHARART_S3_{name}") or None

        part_mib = g("PART_SIZE_MIB")
        path_style = g("PATH_STYLE")
        return cls(endpoint_url=g("ENDPOINT"), region=g("REGION"), access_key_id=g("ACCESS_KEY_ID"),
                   secret_access_key=g("SECRET_ACCESS_KEY"),
                   part_size=int(float(part_mib) * 1024 * 1024) if part_mib else 8 * 1024 * 1024,
                   path_style=None if path_style is None else path_style.strip().lower() in {"1", "true", "yes"})


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code is not None:
            return str(code)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return None if status is None else str(status)
    return None


def _digest_mismatch(actual: str) -> ValidationFailed:
    return ValidationFailed(
        "digest_mismatch", "The uploaded bytes do not match the digest.",
        errors=[FieldError("sha256", "digest_mismatch", f"got {actual}")],
        extra={"actualSha256": actual},
    )


class S3ObjectStore:
    """Objects in one bucket under an optional key prefix; see the module docstring."""

    def __init__(self, bucket: str, prefix: str = "", *, settings: S3Settings | None = None) -> None:
        if not bucket:
            raise ValueError("an S3 object store needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.settings = settings or S3Settings()
        self._session: Any = None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Any]] = (
            weakref.WeakKeyDictionary())

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str] | None = None) -> S3ObjectStore:
        """``s3://bucket/optional/prefix``; connection settings from ``GHARART_S3_*`` in ``env``."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
        return cls(parsed.netloc, parsed.path, settings=S3Settings.from_env(env))

    # -- client ----------------------------------------------------------------
    async def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None:
            return entry[1]
        import aioboto3
        from botocore.config import Config

        if self._session is None:
            self._session = aioboto3.Session()
        s = self.settings
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if s.path_style else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
            # Only send/validate checksums when an operation requires them (S3-compatible servers vary).
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        cm = self._session.client(
            "s3", endpoint_url=s.endpoint_url, region_name=s.region or "us-east-1",
            aws_access_key_id=s.access_key_id, aws_secret_access_key=s.secret_access_key, config=config)
        client = await cm.__aenter__()
        entry = self._clients.get(loop)
        if entry is not None:  # another task of this loop won the race
            await cm.__aexit__(None, None, None)
            return entry[1]
        self._clients[loop] = (cm, client)
        return client

    async def aclose(self) -> None:
        """Close the client of the running loop (idempotent)."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].__aexit__(None, None, None)

    def _full(self, key: str) -> str:
        return self.prefix + check_key(key)

    # -- writes ----------------------------------------------------------------
    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None,
                         expected_sha256: str | None = None) -> ObjectInfo:
        full = self._full(key)
        expected = expected_sha256.lower() if expected_sha256 is not None else None
        part_size = self.settings.part_size
        digest = hashlib.sha256()
        size = 0
        buf = bytearray()
        upload: _MultipartUpload | None = None
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge("file_too_large", f"The body is larger than {max_bytes} bytes.")
                digest.update(chunk)
                buf += chunk
                while len(buf) >= part_size:
                    if upload is None:
                        meta = {"sha256": expected} if expected else {}
                        upload = await _MultipartUpload.start(await self._client(), self.bucket, full, meta)
                    with memoryview(buf) as view:
                        part = bytes(view[:part_size])
                    del buf[:part_size]
                    await upload.add_part(part)
            hexdigest = digest.hexdigest()
            if expected is not None and hexdigest != expected:
                raise _digest_mismatch(hexdigest)
            if upload is None:
                client = await self._client()
                await client.put_object(Bucket=self.bucket, Key=full, Body=bytes(buf),
                                        Metadata={"sha256": hexdigest})
            else:
                if buf:
                    await upload.add_part(bytes(buf))
                buf = bytearray()
                await upload.complete()
            return ObjectInfo(key, size, hexdigest)
        except BaseException:
            if upload is not None:
                await upload.abort()
            raise

    async def put_bytes(self, key: str, data: bytes) -> ObjectInfo:
        full = self._full(key)
        payload = bytes(data)
        hexdigest = hashlib.sha256(payload).hexdigest()
        client = await self._client()
        await client.put_object(Bucket=self.bucket, Key=full, Body=payload, Metadata={"sha256": hexdigest})
        return ObjectInfo(key, len(payload), hexdigest)

    # -- reads -----------------------------------------------------------------
    async def get_stream(self, key: str, *, start: int = 0, end: int | None = None,
                         chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """Yield bytes ``start``..``end`` (inclusive end, like HTTP ranges) from one GET."""
        full = self._full(key)
        start = max(0, start)
        client = await self._client()
        if end is not None and end < start:
            if await self.head(key) is None:
                raise KeyError(key)
            return
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-" + ("" if end is None else str(end))
        try:
            response = await client.get_object(**kwargs)
        except Exception as exc:
            code = _error_code(exc)
            if code in _MISSING:
                raise KeyError(key) from None
            if code in ("InvalidRange", "416"):
                if await self.head(key) is None:
                    raise KeyError(key) from None
                return
            raise
        body = response["Body"]
        try:
            while True:
                data = await body.read(chunk_size)
                if not data:
                    break
                yield data
        finally:
            body.close()

    async def get_bytes(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.get_stream(key, chunk_size=1 << 20)])

    async def head(self, key: str) -> ObjectInfo | None:
        full = self._full(key)
        client = await self._client()
        try:
            response = await client.head_object(Bucket=self.bucket, Key=full)
        except Exception as exc:
            if _error_code(exc) in _MISSING:
                return None
            raise
        sha = (response.get("Metadata") or {}).get("sha256") or None
        return ObjectInfo(key, int(response["ContentLength"]), sha)

    async def delete(self, key: str) -> None:
        full = self._full(key)
        client = await self._client()
        try:
            await client.delete_object(Bucket=self.bucket, Key=full)
        except Exception as exc:
            if _error_code(exc) not in _MISSING:
                raise

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    async def ping(self) -> None:
        """Readiness: the bucket exists and the credentials may use it."""
        client = await self._client()
        await client.head_bucket(Bucket=self.bucket)

    # -- extras ----------------------------------------------------------------
    async def download_url(self, key: str, *, content_type: str, content_disposition: str,
                           ttl_s: int) -> str | None:
        """A presigned ``GetObject`` URL valid for ``ttl_s`` seconds; the bucket answers it with
        the given ``Content-Type`` and ``Content-Disposition`` (``response-content-*`` overrides,
        part of the signature, so a client cannot change them)."""
        return await self._presign(key, ttl_s, {"ResponseContentType": content_type,
                                                "ResponseContentDisposition": content_disposition})

    async def presigned_get_url(self, key: str, *, expires_s: int = 300, filename: str | None = None) -> str:
        """A time-limited URL that downloads ``key`` straight from the bucket (public files)."""
        extra: dict[str, str] = {}
        if filename:
            quoted = urllib.parse.quote(filename)
            extra["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quoted}"
        return await self._presign(key, expires_s, extra)

    async def _presign(self, key: str, expires_s: int, extra: Mapping[str, str]) -> str:
        if not 1 <= int(expires_s) <= 604_800:  # SigV4 presigned URLs live at most seven days
            raise ValueError(f"a presigned URL lives 1..604800 seconds, not {expires_s}")
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key), **extra}
        client = await self._client()
        url = await client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_s))
        return str(url)

    async def pending_uploads(self) -> list[str]:
        """Keys (without prefix) with an unfinished multipart upload; used by tests and ops checks."""
        client = await self._client()
        response = await client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
        return [u["Key"][len(self.prefix):] for u in response.get("Uploads", []) or []]


class _MultipartUpload:
    """One multipart upload with at most one part in flight while the next one fills."""

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.parts: list[dict[str, Any]] = []
        self.in_flight: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, client: Any, bucket: str, key: str, metadata: dict[str, str]) -> _MultipartUpload:
        response = await client.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)
        return cls(client, bucket, key, response["UploadId"])

    async def _upload(self, number: int, data: bytes) -> None:
        response = await self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                 PartNumber=number, Body=data)
        self.parts.append({"PartNumber": number, "ETag": response["ETag"]})

    async def add_part(self, data: bytes) -> None:
        if self.in_flight is not None:
            await self.in_flight
        number = len(self.parts) + 1
        self.in_flight = asyncio.ensure_future(self._upload(number, data))

    async def complete(self) -> None:
        if self.in_flight is not None:
            await self.in_flight
            self.in_flight = None
        parts = sorted(self.parts, key=lambda p: p["PartNumber"])
        await self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                    MultipartUpload={"Parts": parts})

    async def abort(self) -> None:
        """Abort, even when the caller is being cancelled (shielded, errors swallowed)."""

        async def run() -> None:
            if self.in_flight is not None:
                self.in_flight.cancel()
                with contextlib.suppress(BaseException):
                    await self.in_flight
            with contextlib.suppress(Exception):
                await self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)

        with contextlib.suppress(BaseException):
            await asyncio.shield(run())
