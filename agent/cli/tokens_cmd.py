"""``kyso-agent tokens`` and ``certs``: what is plugged in (``doctor``, what is wrong with it:
:mod:`agent.cli.doctor_cmd`), and the certificate choice every signing command shares."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from agent.cli.common import (
    SignatureAudit,
    add_module_argument,
    choose_certificate,
    print_choices_hint,
)
from agent.cli.compose import build_token_service
from agent.cli.output import print_json, table
from agent.errors import ErrorGroup, KysoError
from agent.signing.certstatus import CertStatus, StatusChecker, check_before_signing
from agent.signing.trust import Purpose

# `certs`'s "private key" column: what the token shows, without login, of the certificate's key.
KEY_MISMATCH_TEXT = "không khớp với chứng thư này / does not match this certificate"
KEY_HIDDEN_TEXT = "có thể, sau khi nhập PIN / maybe, after the PIN"
KEY_CANNOT_SIGN_TEXT = "không được phép ký / not allowed to sign"


def register(sub: Any) -> None:
    """Add tokens and certs (doctor: agent.cli.doctor_cmd)."""
    for name, func, help_text in (
        ("tokens", run_tokens, "list plugged-in tokens"),
        ("certs", run_certs, "list certificates on plugged-in tokens"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        add_module_argument(p)
        p.set_defaults(func=func)


async def run_tokens(args: argparse.Namespace) -> int:
    """Print the tokens present."""
    async with _service(args) as service:
        tokens = await service.list_tokens()
    if args.json:
        print_json([t.to_json() for t in tokens])
    elif not tokens:
        print(
            "Không thấy USB token nào. Cắm token rồi chạy lại; chạy 'kyso-agent doctor' để biết "
            "vì sao.\nNo token found. Plug it in and run again; 'kyso-agent doctor' says why."
        )
    else:
        print(
            table(
                [[t.label, t.serial, t.manufacturer, t.model, pin_text(t)] for t in tokens],
                ["label", "serial", "manufacturer", "model", "PIN"],
            )
        )
    return 0


async def revocation_statuses(certs: list[Any]) -> dict[str, CertStatus]:
    """The revocation status of every certificate with a private key (by thumbprint), fetched
    in parallel (3 s at most) or from the cache under the state root."""
    checker = StatusChecker()
    issuers = [c.info.der for c in certs if c.info.is_ca]
    signing = [c for c in certs if c.has_private_key and not c.info.is_ca]
    found = await asyncio.gather(*(checker.status(c.info.der, issuers) for c in signing))
    return {c.thumbprint: status for c, status in zip(signing, found, strict=True)}


async def choose_signing_certificate(
    service: Any, args: argparse.Namespace, audit: SignatureAudit | None = None
) -> Any:
    """sign-xml / sign-cms / sign-pdf, before the PIN: the certificate ``--cert``/``--token``
    name (the choices printed when that is not one), attached to ``audit`` so a refusal is
    recorded with it, then checked (:func:`check_signing_certificate`)."""
    try:
        cert = await choose_certificate(service, args.cert, args.token)
    except KysoError as exc:
        print_choices_hint(exc)
        raise
    if audit is not None:
        audit.certificate = cert
    status = await check_signing_certificate(
        service, cert, allow_invalid=args.allow_invalid_certificate
    )
    if audit is not None:
        audit.revocation = revocation_report(status)
    return cert


def revocation_report(status: CertStatus | None) -> dict[str, str]:
    """The revocation status for a --json report: ``good`` (with where the answer came
    from), ``unknown`` (with why: offline, no answer), or ``not_checked`` when
    --allow-invalid-certificate let a refused certificate sign."""
    if status is None:
        return {"status": "not_checked", "reason": "--allow-invalid-certificate"}
    return {"status": status.status, "reason": status.reason}


async def check_signing_certificate(
    service: Any, cert: Any, *, allow_invalid: bool, purpose: Purpose = "sign"
) -> CertStatus | None:
    """sign-xml / sign-cms, before the PIN: refuse an expired, not yet valid, wrongly used or
    revoked certificate (its code), unless ``allow_invalid`` (--allow-invalid-certificate), which
    only prints a warning. Status unknown prints a line and goes on (not a block)."""
    issuers = [c.info.der for c in await service.list_certificates() if c.info.is_ca]
    try:
        status = await check_before_signing(StatusChecker(), cert.info.der, purpose, issuers)
    except KysoError as exc:
        # What --allow-invalid-certificate lets through: the certificate's own validity.
        if not allow_invalid or not exc.is_(ErrorGroup.CERTIFICATE):
            raise
        sys.stderr.write(
            f"CẢNH BÁO: vẫn ký bằng chứng thư số không hợp lệ vì có --allow-invalid-certificate: "
            f"[{exc.code}] {exc.message_vi} Cơ quan nhận hồ sơ sẽ từ chối chữ ký này.\n"
            f"WARNING: signing with an invalid certificate because of "
            f"--allow-invalid-certificate: [{exc.code}] {exc.message_en} The receiving agency "
            "will reject this signature.\n"
        )
        return None
    if status.status == "unknown":
        sys.stderr.write(
            "Cảnh báo: không kiểm tra được tình trạng thu hồi của chứng thư số; vẫn ký, cơ quan "
            "nhận hồ sơ sẽ kiểm tra lại.\n"
            f"Warning: the certificate's revocation status is unknown ({status.reason}); "
            "signing anyway, the receiving agency checks it again.\n"
        )
    return status


def add_allow_invalid_argument(parser: argparse.ArgumentParser) -> None:
    """--allow-invalid-certificate: the only way to sign with a refused certificate."""
    parser.add_argument(
        "--allow-invalid-certificate",
        action="store_true",
        help="sign even with an expired, not yet valid, revoked or non-signing certificate "
        "(prints a warning; the receiving agency will refuse such a signature)",
    )


async def remote_listing() -> tuple[list[Any], dict[str, Any]]:
    """The configured remote providers' credentials and how each listing went (by provider).
    Never opens the browser: a provider that needs the user to sign in is reported, and the
    others are listed all the same."""
    from agent.config.policy import load_settings
    from agent.remote.providers import providers_from

    providers = providers_from(load_settings({}).remote_providers)
    if not providers:
        return [], {}
    from agent.cli.compose import open_in_browser
    from agent.remote.directory import RemoteDirectory

    directory = RemoteDirectory.from_providers(providers, browser=open_in_browser)
    try:
        credentials = await directory.list_credentials(interactive=False)
    finally:
        await directory.close()
    return credentials, dict(directory.statuses)


async def remote_revocation(credentials: list[Any]) -> dict[str, CertStatus]:
    """The revocation status of each remote credential's certificate (its chain as issuers)."""
    checker = StatusChecker()
    found = await asyncio.gather(
        *(checker.status(c.info.der, c.details.chain) for c in credentials)
    )
    return {c.thumbprint: status for c, status in zip(credentials, found, strict=True)}


async def run_certs(args: argparse.Namespace) -> int:
    """Print the certificates on present tokens, then the remote credentials."""
    async with _service(args) as service:
        certs = await service.list_certificates()
    remote, _ = await remote_listing()
    if args.json:
        statuses = await revocation_statuses(certs)
        statuses.update(await remote_revocation(remote))
        entries = [
            {
                **c.to_json(),
                "key_mismatch": c.key_mismatch,
                "key_hidden": c.key_hidden,
                "key_cannot_sign": c.key_cannot_sign,
                "source": f"token:{c.token.label}",
            }
            for c in certs
        ]
        entries += [r.to_json() for r in remote]  # source "remote:<provider>"
        for entry in entries:
            status = statuses.get(entry["thumbprint"])
            entry["revocation"] = status.to_json() if status is not None else None
        print_json(entries)
        return 0
    if not certs and not remote:
        print(
            "Không thấy chứng thư số nào. Chạy 'kyso-agent doctor' để biết vì sao.\n"
            "No certificate found. Run 'kyso-agent doctor' to find out why."
        )
        return 0
    rows: list[list[str]] = []
    for c in certs:
        i = c.info
        ident = f"MST:{i.mst}" if i.mst else f"CCCD:{i.cccd}" if i.cccd else ""
        rows.append(
            [
                f"token:{c.token.label}",
                i.subject_cn or i.subject,
                ident,
                i.not_after[:10],
                f"{i.key_type}-{i.key_size}",
                _private_key_text(c),
                c.thumbprint[:16],
            ]
        )
    for r in remote:
        i = r.info
        ident = f"MST:{i.mst}" if i.mst else f"CCCD:{i.cccd}" if i.cccd else ""
        key = "remote" if not r.details.problem else f"remote, {r.details.problem}"
        rows.append(
            [r.source, i.subject_cn or i.subject, ident, i.not_after[:10],
             f"{i.key_type}-{i.key_size}", key, r.thumbprint[:16]]
        )  # fmt: skip
    headers = ["source", "holder", "id", "valid to", "key", "private key", "thumbprint"]
    print(table(rows, headers))
    return 0


def _private_key_text(cert: Any) -> str:
    """Whether the token holds the certificate's key, as far as it shows before login."""
    if not cert.has_private_key:
        return "no"
    if cert.key_hidden:
        return KEY_HIDDEN_TEXT
    if cert.key_cannot_sign:
        return KEY_CANNOT_SIGN_TEXT
    return KEY_MISMATCH_TEXT if cert.key_mismatch else "yes"


def pin_text(token: Any) -> str:
    """A token's PIN state in words (tokens, doctor)."""
    state = token.pin_state.tries_hint or "ok"
    return f"{state}, PIN pad" if token.protected_path else state


def _service(args: argparse.Namespace) -> Any:
    return build_token_service(args.module)
