"""The embedded front door: officer directory, `motcua login`, demo officers, publishing.

Run as a user runs them (`motcua.cli.main`); the files they leave must be private where
they hold secrets, and every mistake is one line.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from identity import assertions, publication
from motcua import cli, login, officers
from motcua import publication as published
from procedures.loader import DEFAULT_CATALOG, load_catalog
from runtime.errors import UserError

CATALOG = load_catalog(DEFAULT_CATALOG)


def run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stdin: str, *argv: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_an_officer_is_added_logs_in_and_gets_a_private_signed_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, token_file = tmp_path / "data", tmp_path / "config" / "motcua" / "token"
    monkeypatch.setenv("MOTCUA_TOKEN_FILE", str(token_file))
    status, out, err = run(
        capsys, monkeypatch, "correct horse\n",
        "officers", "add", "lan", "--name", "Nguyễn Thị Lan", "--agency", "000.00.19.H26",
        "--role", "one_stop", "--role", "head", "--password-stdin", "--data", str(data),
    )  # fmt: skip
    assert status == 0, err
    directory_file = officers.path_in(data)
    assert directory_file.stat().st_mode & 0o777 == 0o600
    assert "correct horse" not in directory_file.read_text()
    assert "$argon2id$" in directory_file.read_text()

    status, out, err = run(capsys, monkeypatch, "", "officers", "list", "--data", str(data))
    assert out.split("\t")[:3] == ["lan", "000.00.19.H26", "one_stop,head"]
    assert "argon2" not in out

    for wrong in ("wrong horse\n", "x" * 5000):
        status, _, err = run(
            capsys, monkeypatch, wrong, "login", "--user", "lan", "--password-stdin",
            "--data", str(data),
        )  # fmt: skip
        assert (status, err) == (1, "motcua: unknown user or wrong password\n")
    status, _, err = run(
        capsys, monkeypatch, "correct horse\n", "login", "--user", "nobody", "--password-stdin",
        "--data", str(data),
    )  # fmt: skip
    assert (status, err) == (1, "motcua: unknown user or wrong password\n")
    assert not token_file.exists()

    status, out, err = run(
        capsys, monkeypatch, "correct horse\n", "login", "--user", "lan", "--role", "head",
        "--password-stdin", "--data", str(data),
    )  # fmt: skip
    assert status == 0, err
    assert out.startswith("logged in as lan@000.00.19.H26/head until ")
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token_file.parent.stat().st_mode & 0o777 == 0o700
    # the token verifies with the public keyset a worker is configured with, and only that
    keyset = login.signer(data).keyset()
    claims = assertions.verify(token_file.read_text().strip(), keyset, datetime.now(UTC))
    assert (claims.user, claims.agency, claims.role) == ("lan", "000.00.19.H26", "head")
    assert login.cached().claims == claims

    status, _, err = run(
        capsys, monkeypatch, "correct horse\n", "login", "--user", "lan", "--role", "specialist",
        "--password-stdin", "--data", str(data),
    )  # fmt: skip
    assert (status, err) == (2, "motcua: lan may act as one_stop, head, not specialist\n")


def test_an_expired_or_missing_token_tells_the_officer_to_log_in(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"not logged in: run `motcua login --user USER`"):
        login.cached(tmp_path / "none")
    session = login.sign(tmp_path, "lan", "000.00.19.H26", "one_stop")
    path = login.cache(session, tmp_path / "token")
    later = datetime.fromtimestamp(session.claims.exp, UTC)
    with pytest.raises(UserError, match=r"your login as lan expired at .* run `motcua login`"):
        login.cached(path, now=later)


def test_demo_officers_cover_every_agency_and_role_of_the_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run(capsys, monkeypatch, "", "officers", "demo", "--data", str(tmp_path))
    assert status == 0, err
    password = (tmp_path / "identity" / officers.DEMO_PASSWORD_FILE).read_text().strip()
    assert f"password {password!r}" in out
    assert "one_stop.000.00.19.H26" in out and "head.000.00.19.H26" in out
    directory = officers.load(officers.path_in(tmp_path))
    for procedure in CATALOG.values():
        for agency in procedure.procedure.agencies.values():
            for role in agency.roles:
                officer = directory.officers[f"{role}.{agency.code}"]
                assert (officer.agency, officer.roles) == (agency.code, (role,))
    session = login.login(tmp_path, "head.000.00.19.H26", password)
    assert (session.claims.agency, session.claims.role) == ("000.00.19.H26", "head")
    # a second run keeps the password and the officers
    run(capsys, monkeypatch, "", "officers", "demo", "--data", str(tmp_path))
    assert officers.load(officers.path_in(tmp_path)) == directory


def test_bad_officer_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ("officers", "add", "--name", "X", "--role", "head", "--password-stdin")
    cases = {
        ("mal@lory", "--agency", "000.00.19.H26"): "login 'mal@lory': letters, digits",
        ("mallory", "--agency", "../../etc"): "officer mallory: agency: String should match",
    }
    for extra, message in cases.items():
        argv = (*base[:2], extra[0], *base[2:], *extra[1:], "--data", str(tmp_path))
        status, _, err = run(capsys, monkeypatch, "long enough pw\n", *argv)
        assert status == 2 and err.startswith(f"motcua: {message}"), err
        assert len(err.strip().splitlines()) == 1
    status, _, err = run(
        capsys, monkeypatch, "short\n", *base[:2], "ok", *base[2:], "--agency", "1.2",
        "--data", str(tmp_path),
    )  # fmt: skip
    assert (status, err) == (2, "motcua: a password has 8 to 1024 characters\n")
    officers.path_in(tmp_path).parent.mkdir()
    officers.path_in(tmp_path).write_text("officers:\n  lan: [unclosed\n")
    status, _, err = run(capsys, monkeypatch, "", "officers", "list", "--data", str(tmp_path))
    assert status == 1 and err.startswith(f"motcua: {officers.path_in(tmp_path)}:3:1: not YAML")


def test_publish_signs_the_catalogue_and_a_changed_manifest_proves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run(
        capsys, monkeypatch, "", "publish", "--data", str(tmp_path), "--publisher", "Sở Tư pháp"
    )
    assert status == 0, err
    assert out.startswith(f"published {len(CATALOG)} procedure version(s) as Sở Tư pháp")
    on = date(2026, 11, 30)
    found = published.published(tmp_path, on)
    assert found == {frozen.content_hash: code for code, frozen in CATALOG.items()}
    assert published.published(tmp_path, date(2000, 1, 1)) == {}  # not yet in effect

    path = published.manifest_path(tmp_path)
    document = json.loads(path.read_text())
    document["body"]["procedures"][0]["content_hash"] = "0" * 64  # a spoof's hash slipped in
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match="signature does not verify with publisher key"):
        published.published(tmp_path, on)

    # signed by a key the workers were not given
    stranger = tmp_path / "stranger"
    published.publish(stranger, CATALOG, "mallory", out=path)
    with pytest.raises(UserError, match="not a configured publisher"):
        published.published(tmp_path, on)
    path.write_text('{"body": {}}')
    with pytest.raises(UserError, match=r"not a manifest: body\.publisher: Field required"):
        published.published(tmp_path, on)

    # a rotated publisher key still verifies what the old one signed, and signs anew
    published.publish(tmp_path, CATALOG, "Sở Tư pháp", out=path)
    published.signer(tmp_path).rotate()
    assert published.published(tmp_path, on) == found
    _, manifest = published.publish(tmp_path, CATALOG, "Sở Tư pháp", effective_from=on)
    assert manifest.kid in published.signer(tmp_path).keyset()
    assert publication.published_set(manifest.body, date(2026, 11, 29)) == {}


def test_a_delegate_logs_in_acting_for_an_absent_colleague_within_the_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, token_file = tmp_path / "data", tmp_path / "token"
    monkeypatch.setenv("MOTCUA_TOKEN_FILE", str(token_file))
    for user, agency in (("lan", "000.00.19.H26"), ("hoa", "000.00.19.H26"), ("an", "X.1")):
        status, _, err = run(
            capsys, monkeypatch, "correct horse\n", "officers", "add", user, "--name", user,
            "--agency", agency, "--role", "one_stop", "--password-stdin", "--data", str(data),
        )  # fmt: skip
        assert status == 0, err
    today = datetime.now(officers.VIETNAM).date()

    def delegate(*argv: str) -> tuple[int, str, str]:
        return run(capsys, monkeypatch, "", "officers", "delegate", *argv, "--data", str(data))

    # another agency, a role the absent officer lacks: one line each
    for argv, why in (
        (("--from", "lan", "--to", "an", "--role", "one_stop", "--until", f"{today}"), "agency"),
        (("--from", "lan", "--to", "hoa", "--role", "head", "--until", f"{today}"), "not head"),
    ):
        status, _, err = delegate(*argv)
        assert status == 2 and why in err and err.count("\n") == 1, err

    def log_in() -> tuple[int, str, str]:
        return run(
            capsys, monkeypatch, "correct horse\n", "login", "--user", "hoa", "--acting-for",
            "lan", "--password-stdin", "--data", str(data),
        )  # fmt: skip

    assert log_in()[:2] == (1, "")  # no delegation yet
    status, out, err = delegate(
        "--from", "lan", "--to", "hoa", "--role", "one_stop", "--until", f"{today}"
    )
    assert status == 0, err
    assert "from: lan" in officers.path_in(data).read_text()
    status, out, err = log_in()
    assert status == 0, err
    assert out.startswith("logged in as hoa@000.00.19.H26/one_stop acting for lan until ")
    claims = login.cached().claims
    assert claims.acting_for == "lan"
    assert claims.acting_until is not None and claims.exp <= claims.acting_until
    # revoked: no more logging in as lan's delegate
    assert run(capsys, monkeypatch, "", "officers", "revoke", "--from", "lan", "--to", "hoa",
               "--data", str(data))[0] == 0  # fmt: skip
    status, _, err = log_in()
    assert (status, err) == (1, "motcua: hoa has no delegation to act for lan\n")
    # a period already over is refused at login too
    status, _, err = delegate(
        "--from", "lan", "--to", "hoa", "--role", "one_stop", "--since", "2020-01-01",
        "--until", "2020-01-31",
    )  # fmt: skip
    assert status == 0, err
    status, _, err = log_in()
    assert status == 1 and "runs 2020-01-01 to 2020-01-31: not today" in err
