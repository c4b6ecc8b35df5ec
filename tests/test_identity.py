"""Officer assertions and key files: every way a token can fail says which, precisely."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from identity import assertions, keys
from identity.assertions import Reason, Refused
from identity.oidc import MappingRefused, map_claims

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _issue(key: keys.SigningKey, **overrides: object) -> str:
    options: dict = {"user": "lan", "agency": "000.00.19.H26", "role": "one_stop", "now": NOW}
    options.update(overrides)
    return assertions.issue(key.private, key.kid, **options)


def _refusal(token: str, keyset: assertions.Keyset, now: datetime = NOW) -> Reason:
    with pytest.raises(Refused) as refused:
        assertions.verify(token, keyset, now)
    return refused.value.reason


def test_a_signed_assertion_verifies_until_it_expires() -> None:
    key = keys.generate()
    token = _issue(key, dossier="000.00.19.H26-261130-0001", task="receive")
    claims = assertions.verify(token, {key.kid: key.public}, NOW + timedelta(hours=7))
    assert (claims.user, claims.agency, claims.role) == ("lan", "000.00.19.H26", "one_stop")
    assert (claims.dossier, claims.task) == ("000.00.19.H26-261130-0001", "receive")
    assert claims.exp - claims.iat == 8 * 3600
    assert _refusal(token, {key.kid: key.public}, NOW + timedelta(hours=8)) is Reason.EXPIRED
    assert _refusal(token, {key.kid: key.public}, NOW - timedelta(minutes=5)) is (
        Reason.NOT_YET_VALID
    )
    # within the tolerated clock skew an assertion is already good
    assertions.verify(token, {key.kid: key.public}, NOW - timedelta(seconds=30))


def test_forged_unsigned_and_foreign_tokens_are_refused_with_their_reason() -> None:
    key, other = keys.generate(), keys.generate()
    keyset = {key.kid: key.public}
    token = _issue(key)
    header, payload, signature = token.split(".")
    # the attacker edits the claims (becomes head) and keeps the signature
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "head"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _refusal(f"{header}.{forged}.{signature}", keyset) is Reason.BAD_SIGNATURE
    # signed by a key of their own, claiming the real key id
    assert _refusal(_issue(keys.SigningKey(key.kid, other.private)), keyset) is (
        Reason.BAD_SIGNATURE
    )
    assert _refusal(_issue(other), keyset) is Reason.UNKNOWN_KID
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": key.kid})
    assert _refusal(unsigned, keyset) is Reason.UNSIGNED
    assert _refusal(f"{header}.{payload}.", keyset) is Reason.UNSIGNED
    hmac = jwt.encode(claims, "secret-known-to-all-0123456789abcdef", headers={"kid": key.kid})
    assert _refusal(hmac, keyset) is Reason.WRONG_ALGORITHM
    assert _refusal("not a token", keyset) is Reason.MALFORMED
    assert _refusal("a.b.c", keyset) is Reason.MALFORMED
    assert _refusal("x" * 5000, keyset) is Reason.TOO_LONG


def test_claims_outside_the_model_are_malformed_even_when_signed() -> None:
    key = keys.generate()
    token = jwt.encode(
        {"user": "lan", "agency": "A", "role": "r", "iat": 0, "exp": 10**10, "admin": True},
        key.private,
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )
    assert _refusal(token, {key.kid: key.public}) is Reason.MALFORMED
    with pytest.raises(ValueError):
        _issue(key, lifetime=timedelta(days=2))


def test_a_delegation_is_signed_with_its_period_and_never_without_one() -> None:
    key = keys.generate()
    keyset = {key.kid: key.public}
    week = assertions.Delegation("hoa", NOW - timedelta(days=1), NOW + timedelta(days=6))
    claims = assertions.verify(_issue(key, delegation=week), keyset, NOW)
    assert (claims.acting_for, claims.acting_until) == ("hoa", int(week.end.timestamp()))
    assert assertions.verify(_issue(key), keyset, NOW).acting_for is None  # as before
    base = {"user": "lan", "agency": "A", "role": "r", "iat": 0, "exp": 10**10}
    for extra in (
        {"acting_for": "hoa"},  # no period: an unbounded delegation proves nothing
        {"acting_from": 0, "acting_until": 10**10},  # a period for nobody
        {"acting_for": "lan", "acting_from": 0, "acting_until": 10**10},  # for oneself
    ):
        token = jwt.encode(
            {**base, **extra}, key.private, algorithm="EdDSA", headers={"kid": key.kid}
        )
        assert _refusal(token, keyset) is Reason.MALFORMED, extra


def test_rotation_keeps_old_public_keys_and_files_are_private(tmp_path: Path) -> None:
    signer = keys.Signer(tmp_path / "identity", "officers")
    first = signer.key()
    assert signer.key().kid == first.kid  # read back, not regenerated
    old_token = _issue(first)
    second = signer.rotate()
    assert second.kid != first.kid
    keyset = keys.read_keyset(signer.keyset_path)
    assert set(keyset) == {first.kid, second.kid}
    assertions.verify(old_token, keyset, NOW)
    assert signer.private_path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "identity").stat().st_mode & 0o777 == 0o700
    signer.private_path.chmod(0o644)
    with pytest.raises(keys.KeyFileError, match="readable by others"):
        signer.key()


def test_a_tampered_keyset_file_is_refused(tmp_path: Path) -> None:
    signer = keys.Signer(tmp_path, "officers")
    signer.key()
    document = json.loads(signer.keyset_path.read_text())
    document["keys"][0]["kid"] = "someone-else"
    signer.keyset_path.write_text(json.dumps(document))
    with pytest.raises(keys.KeyFileError, match="has kid 'someone-else'"):
        keys.read_keyset(signer.keyset_path)
    signer.keyset_path.write_text('{"keys": [{"kty": "RSA"}]}')
    with pytest.raises(keys.KeyFileError, match="not an Ed25519 public JWK"):
        keys.read_keyset(signer.keyset_path)


def test_single_sign_on_claims_map_to_agency_and_role() -> None:
    claims = {
        "preferred_username": "lan",
        "motcua_agency": "000.00.19.H26",
        "motcua_roles": "one_stop head",
    }
    principal = map_claims(claims, "head")
    assert (principal.user, principal.agency, principal.role) == ("lan", "000.00.19.H26", "head")
    with pytest.raises(MappingRefused, match="choose a role among one_stop, head"):
        map_claims(claims)
    with pytest.raises(MappingRefused, match="not specialist"):
        map_claims(claims, "specialist")
    with pytest.raises(MappingRefused, match="no 'motcua_agency'"):
        map_claims({"preferred_username": "lan", "motcua_roles": ["head"]})
    custom = map_claims(
        {"email": "lan@example.vn", "org": "000.00.19.H26", "groups": ["one_stop"]},
        user_claim="email",
        agency_claim="org",
        roles_claim="groups",
    )
    assert custom.role == "one_stop"
