"""The codec server: where people allowed to read personal data read it, and are traced.

Temporal's Web UI and CLI show payloads as stored (encrypted). They can call a codec server,
`POST /encode` and `POST /decode` (also under `/{namespace}/`), with proto3-JSON `Payloads`;
this one decrypts with the same keys as the workers, only for a caller whose
`Authorization: Bearer <token>` a verifier accepts and whose role may read (401 without a
valid token, 403 for a role that may not), and logs every decode (who, namespace, which
dossiers, how many payloads; never a value). The Temporal UI's own authorization is coarse, so
this is where reading personal data is controlled.

FastAPI, like the web front door (motcua/web), so the app can also be mounted there; served
on its own port by uvicorn for `motcua dev` and for `motcua codec-server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import importlib
import json
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf.json_format import MessageToJson, Parse, ParseError
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import WorkflowSerializationContext

from activities.private import open_private, private_dir, write_private
from identity import assertions, keys, layout
from runtime.codec import DOSSIER_PREFIX, EncryptionCodec, key_id_of
from runtime.errors import UserError
from runtime.keyring import KeysUnavailable

log = structlog.get_logger(__name__)

DEFAULT_PORT = 8234
"""Next to the embedded Web UI's 8233."""
MAX_BODY = 8 << 20
"""Bytes of one request; a history page of payloads fits many times over."""
MAX_PAYLOADS = 10_000
READER_ROLES = frozenset({"auditor"})
"""Roles that may read personal data through the codec server by default."""
DOSSIER_HEADER = "x-motcua-dossier"
"""Optional header of an `/encode` request: the dossier whose key seals the payloads."""
VERIFIER_ENV = "MOTCUA_CODEC_VERIFIER"
"""`module:function` returning a `TokenVerifier` (the front door's identity); unset: dev tokens."""
TOKENS_FILE = Path("keys") / "codec-tokens.json"
DEV_TOKEN_FILE = Path("keys") / "codec-token"


@dataclass(frozen=True)
class Reader:
    """Who asks to read: what the verifier vouches for, and what the decode log records."""

    user: str
    role: str
    agency: str = ""


class Unauthenticated(Exception):
    """The token proves nothing (missing, malformed, unknown, expired, badly signed)."""


TokenVerifier = Callable[[str], Reader]
"""Maps a bearer token to the `Reader` it proves, or raises `Unauthenticated`."""


# ---------------------------------------------------------------- the embedded default's tokens


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenFile:
    """Bearer tokens kept as SHA-256 digests in a 0600 file: the embedded default's verifier."""

    path: Path

    def __call__(self, token: str) -> Reader:
        if not token or len(token) > 512 or not self.path.exists():
            raise Unauthenticated("no such token")
        entries = json.loads(self.path.read_bytes()) if self.path.stat().st_size < 1 << 20 else {}
        wanted = _digest(token)
        for digest, who in entries.items():
            if hmac.compare_digest(digest, wanted):
                return Reader(str(who["user"]), str(who["role"]), str(who.get("agency", "")))
        raise Unauthenticated("no such token")

    def issue(self, user: str, role: str, agency: str = "") -> str:
        """A new random token for `user` in `role`; only its digest is kept."""
        entries = json.loads(self.path.read_bytes()) if self.path.exists() else {}
        token = secrets.token_urlsafe(32)
        entries[_digest(token)] = {"user": user, "role": role, "agency": agency}
        private_dir(self.path.parent)
        write_private(self.path, json.dumps(entries, indent=2).encode())
        return token


def dev_token(data_dir: Path) -> str:
    """The embedded default's auditor token, made on first use, kept in `keys/codec-token`
    (0600) so that `--codec-auth "Bearer $(cat .data/keys/codec-token)"` works."""
    path = data_dir / DEV_TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    token = TokenFile(data_dir / TOKENS_FILE).issue("dev-auditor", "auditor")
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as fh:
        fh.write(token + "\n")
    return token


@dataclass(frozen=True)
class OfficerAssertions:
    """Officers' signed assertions (`motcua login`, the web app's sign-in) as bearer tokens:
    verified with the officers' keyset the workers trust, now; the role they were signed for
    decides whether they may read (an `auditor`), as for every other officer's act."""

    keyset: Path

    def __call__(self, token: str) -> Reader:
        try:
            claims = assertions.verify(token, keys.read_keyset(self.keyset), datetime.now(UTC))
        except (assertions.Refused, keys.KeyFileError) as err:
            raise Unauthenticated(str(err)) from None
        return Reader(claims.user, claims.role, claims.agency)


@dataclass(frozen=True)
class EitherToken:
    """A signed assertion (a compact JWS: three dot-separated parts) or a token of the file."""

    signed: TokenVerifier
    kept: TokenVerifier

    def __call__(self, token: str) -> Reader:
        return (self.signed if token.count(".") == 2 else self.kept)(token)


def load_verifier(data_dir: Path) -> TokenVerifier:
    """The verifier named by `MOTCUA_CODEC_VERIFIER=module:function`, else officers' signed
    assertions and the embedded default's token file."""
    spec = os.environ.get(VERIFIER_ENV, "").strip()
    if not spec:
        signed = OfficerAssertions(layout.officers_signer(data_dir).keyset_path)
        return EitherToken(signed, TokenFile(data_dir / TOKENS_FILE))
    module_name, sep, name = spec.partition(":")
    if not (sep and module_name and name):
        raise UserError(f"{VERIFIER_ENV} must be module:function, got {spec!r}", exit_code=2)
    try:
        factory = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise UserError(f"{VERIFIER_ENV}={spec}: {err}", exit_code=2) from None
    verifier: TokenVerifier = factory()
    return verifier


# ---------------------------------------------------------------------------------- the app


def create_app(
    codec: EncryptionCodec,
    verify: TokenVerifier,
    *,
    ui_origins: Sequence[str] = ("http://localhost:8233",),
    reader_roles: frozenset[str] = READER_ROLES,
) -> FastAPI:
    """The codec server as an ASGI app: `/encode`, `/decode`, and both under `/{namespace}/`."""
    app = FastAPI(title="motcua codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(ui_origins),
        allow_methods=["POST"],
        allow_headers=["authorization", "content-type", "x-namespace", DOSSIER_HEADER],
        allow_credentials=True,
    )

    async def handle(request: Request, namespace: str | None, action: str) -> Response:
        namespace = namespace or request.headers.get("x-namespace", "default")
        roles = reader_roles if action == "decode" else None
        reader = _authorise(request, verify, roles, action, namespace)
        if isinstance(reader, Response):
            return reader
        payloads = await _read_payloads(request)
        if isinstance(payloads, Response):
            return payloads
        if action == "encode":
            # The CLI can say which dossier its input is for (`--codec-header
            # X-Motcua-Dossier=CODE`): sealed with that dossier's key, erased with it.
            dossier = request.headers.get(DOSSIER_HEADER, "")[:128]
            sealer = codec.with_context(WorkflowSerializationContext(namespace, dossier))
            try:
                out = await sealer.encode(payloads)
            except KeysUnavailable as err:
                return Response(json.dumps({"error": str(err)}), 409, media_type="application/json")
            log.info(
                "codec.encode",
                reader=reader.user,
                role=reader.role,
                namespace=namespace,
                dossier=sealer.family,
                payloads=len(out),
            )
        else:
            out = _decode(codec, payloads, reader, namespace)
        body = MessageToJson(Payloads(payloads=out), preserving_proto_field_name=False)
        return Response(body, media_type="application/json")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await handle(request, None, "encode")

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await handle(request, None, "decode")

    @app.post("/{namespace}/encode")
    async def encode_ns(namespace: str, request: Request) -> Response:
        return await handle(request, namespace, "encode")

    @app.post("/{namespace}/decode")
    async def decode_ns(namespace: str, request: Request) -> Response:
        return await handle(request, namespace, "decode")

    return app


def _authorise(
    request: Request,
    verify: TokenVerifier,
    reader_roles: frozenset[str] | None,
    action: str,
    namespace: str,
) -> Reader | Response:
    """The verified reader, or the 401/403 response (each refusal is logged too). Encoding
    needs a valid token only (it reveals nothing); decoding needs a role in `reader_roles`."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    client = request.client.host if request.client else ""
    if scheme.lower() != "bearer" or not token.strip():
        log.warning(
            "codec.refused",
            action=action,
            namespace=namespace,
            why="no bearer token",
            client=client,
        )
        return _refuse(401, "a bearer token is required")
    try:
        reader = verify(token.strip())
    except Unauthenticated as err:
        log.warning(
            "codec.refused", action=action, namespace=namespace, why=str(err), client=client
        )
        return _refuse(401, "the token is not valid")
    if reader_roles is not None and reader.role not in reader_roles:
        log.warning(
            "codec.refused",
            action=action,
            namespace=namespace,
            why="role may not read",
            reader=reader.user,
            role=reader.role,
            client=client,
        )
        return _refuse(403, f"role {reader.role!r} may not read personal data")
    return reader


def _refuse(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return Response(json.dumps({"error": message}), status, headers, "application/json")


async def _read_payloads(request: Request) -> list[Payload] | Response:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return Response(json.dumps({"error": f"body over {MAX_BODY} bytes"}), 413)
    try:
        message = Parse(body.decode() or "{}", Payloads())
    except (ParseError, UnicodeDecodeError) as err:
        return Response(json.dumps({"error": f"not proto3-JSON Payloads: {err}"[:300]}), 400)
    if len(message.payloads) > MAX_PAYLOADS:
        return Response(json.dumps({"error": f"more than {MAX_PAYLOADS} payloads"}), 413)
    return list(message.payloads)


def _decode(
    codec: EncryptionCodec, payloads: list[Payload], reader: Reader, namespace: str
) -> list[Payload]:
    """Decrypt each payload it can; an erased dossier's stay encrypted. Logged, no values."""
    out: list[Payload] = []
    dossiers: set[str] = set()
    unreadable = 0
    for payload in payloads:
        key_id = key_id_of(payload) or ""
        if key_id.startswith(DOSSIER_PREFIX):
            dossiers.add(key_id.removeprefix(DOSSIER_PREFIX))
        try:
            out.append(codec.decrypt(payload))
        except KeysUnavailable:
            unreadable += 1
            out.append(payload)
    log.info(
        "codec.decode",
        reader=reader.user,
        role=reader.role,
        agency=reader.agency,
        namespace=namespace,
        dossiers=sorted(dossiers),
        payloads=len(payloads),
        unreadable=unreadable,
    )
    return out


# ------------------------------------------------------------------------------- serving


class CodecServer:
    """uvicorn serving `create_app` in this process's event loop: `async with` starts and stops."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        self.host, self.port = host, port
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> CodecServer:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                with contextlib.suppress(BaseException):  # uvicorn exits on a busy port
                    self._task.result()
                raise UserError(f"the codec server could not listen on {self.host}:{self.port}")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task


def payload_json(payloads: Sequence[Payload]) -> str:
    """Proto3-JSON of `payloads`, as the UI and CLI send them (tests, scripts)."""
    return MessageToJson(Payloads(payloads=list(payloads)))
