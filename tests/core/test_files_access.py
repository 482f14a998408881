"""The public file access policy (pure) and magic-link token properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from gharart_core.files.access import Outcome, decide_access, outcome_error
from gharart_core.files.model import File, FileMode, MagicLink, Share
from gharart_core.files.service import MAGIC_LINK_BYTES
from gharart_core.shared.tokens import SecretsTokenSource, sha256_hex

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def make_file(**kw) -> File:
    base = dict(
        id="fil_1",
        handle="acme",
        name="kit.pdf",
        content_type="application/pdf",
        size=3,
        sha256="0" * 64,
        mode=FileMode.LINK,
        expires_at=None,
        access_version=1,
        version=1,
        tags=(),
        share_count=1,
        created_by="usr_1",
        created_at=NOW,
        updated_at=NOW,
        object_key="files/fil_1",
    )
    base.update(kw)
    return File(**base)


SHARE = Share("shr_1", "fil_1", "acme", "p@b.test", None, None, NOW, "usr_1")
LINK = MagicLink("h" * 64, "fil_1", "shr_1", "p@b.test", 1, NOW)
times = st.one_of(st.none(), st.integers(-100, 100).map(lambda h: NOW + timedelta(hours=h)))


def decide(file, token=True, link=LINK, share=SHARE):
    return decide_access(file, now=NOW, token_presented=token, link=link, share=share).outcome


def test_guide_cases():
    f = make_file()
    assert decide(f) is Outcome.OK
    assert decide(f, token=False) is Outcome.TOKEN_REQUIRED
    assert decide(f, link=None, share=None) is Outcome.LINK_INVALID
    assert decide(f, link=attrs.evolve(LINK, file_id="fil_2")) is Outcome.LINK_INVALID
    assert decide(attrs.evolve(f, access_version=2)) is Outcome.LINK_INVALIDATED_MODE_CHANGED
    assert decide(f, share=attrs.evolve(SHARE, revoked_at=NOW)) is Outcome.LINK_REVOKED
    assert decide(f, share=attrs.evolve(SHARE, expires_at=NOW)) is Outcome.LINK_EXPIRED
    past = attrs.evolve(f, expires_at=NOW - timedelta(seconds=1))
    assert decide(past) is Outcome.FILE_EXPIRED
    # the file's expiry wins when the grant expired too
    assert decide(past, share=attrs.evolve(SHARE, expires_at=NOW - timedelta(days=1))) is Outcome.FILE_EXPIRED
    assert decide(None) is Outcome.FILE_NOT_FOUND
    assert decide(attrs.evolve(f, mode=FileMode.PRIVATE)) is Outcome.FILE_NOT_FOUND
    assert decide(attrs.evolve(f, deleted_at=NOW)) is Outcome.FILE_NOT_FOUND
    pub = attrs.evolve(f, mode=FileMode.PUBLIC, access_version=5)
    assert decide(pub, token=False) is Outcome.OK
    assert decide(pub, link=None, share=None) is Outcome.OK  # any old token is ignored


@given(
    mode=st.sampled_from(list(FileMode)),
    deleted=st.booleans(),
    expires=times,
    share_expires=times,
    revoked=st.booleans(),
    av_file=st.integers(1, 3),
    av_link=st.integers(1, 3),
    token=st.booleans(),
    genuine=st.booleans(),
)
def test_policy_matches_reference(
    mode, deleted, expires, share_expires, revoked, av_file, av_link, token, genuine
):
    f = make_file(mode=mode, deleted_at=NOW if deleted else None, expires_at=expires, access_version=av_file)
    share = attrs.evolve(SHARE, expires_at=share_expires, revoked_at=NOW if revoked else None)
    link = attrs.evolve(LINK, access_version=av_link) if genuine else None
    got = decide(f, token=token, link=link, share=share if genuine else None)
    # reference written as a flat table of "what the recipient may learn"
    if deleted or mode is FileMode.PRIVATE:
        want = Outcome.FILE_NOT_FOUND
    elif mode is FileMode.PUBLIC:
        want = Outcome.FILE_EXPIRED if expires is not None and expires <= NOW else Outcome.OK
    elif not token:
        want = Outcome.TOKEN_REQUIRED
    elif not genuine:
        want = Outcome.LINK_INVALID
    elif expires is not None and expires <= NOW:
        want = Outcome.FILE_EXPIRED
    elif revoked:
        want = Outcome.LINK_REVOKED
    elif av_link != av_file:
        want = Outcome.LINK_INVALIDATED_MODE_CHANGED
    elif share_expires is not None and share_expires <= NOW:
        want = Outcome.LINK_EXPIRED
    else:
        want = Outcome.OK
    assert got is want
    if got is not Outcome.OK:
        err = outcome_error(got, f, f.id)
        assert err.code == got.value
        if got is Outcome.FILE_EXPIRED:
            assert err.extra["expiredAt"]


@given(hours=st.integers(1, 10_000))
def test_extension_never_breaks_a_link(hours):
    """Changing only the expiry (into the future) never turns an ok link into a refusal."""
    f = make_file(expires_at=NOW + timedelta(hours=1))
    assert decide(f) is Outcome.OK
    assert decide(attrs.evolve(f, expires_at=NOW + timedelta(hours=hours), version=2)) is Outcome.OK


def test_status_codes():
    assert {o.value: o.status for o in Outcome} == {
        "ok": 200,
        "token_required": 401,
        "link_invalid": 403,
        "link_expired": 403,
        "file_expired": 410,
        "link_invalidated_mode_changed": 403,
        "link_revoked": 403,
        "file_not_found": 404,
    }


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=MAGIC_LINK_BYTES, max_value=64), st.integers(min_value=2, max_value=300))
def test_tokens_of_any_allowed_length_never_repeat_and_hash_apart(nbytes, count):
    src = SecretsTokenSource()
    tokens = [src.token(nbytes) for _ in range(count)]
    assert len(set(tokens)) == count
    assert all(len(t) >= (nbytes * 8 + 5) // 6 for t in tokens)  # URL-safe base64: 6 bits a character
    assert len({sha256_hex(t) for t in tokens}) == count


def test_tokens_are_long_unique_and_stored_hashed():
    src = SecretsTokenSource()
    tokens = [src.token(MAGIC_LINK_BYTES) for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    assert MAGIC_LINK_BYTES * 8 >= 128
    assert all(len(t) >= 22 for t in tokens)  # >= 128 bits in URL-safe base64
    hashes = {sha256_hex(t) for t in tokens}
    assert len(hashes) == len(tokens) and all(len(h) == 64 for h in hashes)
