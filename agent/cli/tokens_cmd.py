"""``kyso-agent tokens``, ``certs`` and ``doctor``: what is plugged in and what is wrong."""

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
from agent.cli.output import one_line, print_json, table
from agent.errors import ErrorGroup, KysoError
from agent.signing.certstatus import CertStatus, StatusChecker, check_before_signing
from agent.signing.trust import Purpose

PROBLEM_TEXT = {
    "EXPIRED": "đã hết hạn / expired",
    "NOT_YET_VALID": "chưa đến ngày hiệu lực / not yet valid",
    "NO_SIGNING_KEY_USAGE": "không dùng để ký / key usage does not allow signing",
    "CA_CERTIFICATE": "chứng thư của CA, không dùng để ký / a CA certificate",
    "UNSUPPORTED_CRITICAL_EXTENSION": "có phần mở rộng bắt buộc (critical) mà phần mềm kiểm "
    "tra chữ ký không xử lý được, chữ ký sẽ bị từ chối / a critical extension signature "
    "verifiers do not handle: its signatures would be refused",
    "NO_PRIVATE_KEY": "không có khóa bí mật trên token / no private key on the token",
    "KEY_CERT_MISMATCH": "khóa trên token không khớp với chứng thư này, ký sẽ bị từ chối; "
    "liên hệ nhà cung cấp chữ ký số (CA) / the key on the token does not match this "
    "certificate, signing will be refused: ask your certificate provider",
    "KEY_CANNOT_SIGN": "khóa bí mật trên token không được phép ký (CKA_SIGN), ký sẽ bị từ chối; "
    "liên hệ nhà cung cấp chữ ký số (CA) / the private key on the token is not allowed to sign "
    "(CKA_SIGN), signing will be refused: ask your certificate provider",
    "PIN_LOCKED": "mã PIN của token đã bị khóa, liên hệ nhà cung cấp để mở khóa / "
    "the token's PIN is locked: ask your provider to unlock it",
    "REVOKED": "đã bị thu hồi / revoked",
    "REMOTE_DISABLED": "nhà cung cấp đã khóa hoặc thu hồi / disabled or revoked by the provider",
}
WARNING_TEXT = {
    "PIN_FINAL_TRY": "chỉ còn MỘT lần nhập PIN trước khi token bị khóa / "
    "ONE PIN try left before the token locks",
    "PIN_COUNT_LOW": "đã có lần nhập sai PIN / a wrong PIN was entered since the last good one",
    "AMBIGUOUS_IDENTIFIER": "chứng thư ghi hai mã số (MST, CCCD...) khác nhau nên không có mã "
    "số nào được coi là của chứng thư / the subject names two different identifiers (MST, "
    "CCCD...), so neither counts as the certificate's",
    "KEY_HIDDEN": "chưa thấy khóa bí mật: token có thể chỉ hiện khóa sau khi nhập PIN; Kyso tìm "
    "khóa khi ký / no key seen yet: the key may be hidden until the PIN is entered; Kyso looks "
    "for it when signing",
    "ECDSA_XML": "khóa ECDSA: cổng BHXH, thuế chạy .NET (SignedXml) không kiểm tra được chữ ký "
    "XML ECDSA nên sẽ từ chối hồ sơ XML ký bằng chứng thư này / ECDSA key: .NET portals "
    "(SignedXml) such as BHXH and tax cannot verify ECDSA XML signatures and will refuse XML "
    "dossiers signed with this certificate",
}
# `certs`'s "private key" column: what the token shows, without login, of the certificate's key.
KEY_MISMATCH_TEXT = "không khớp với chứng thư này / does not match this certificate"
KEY_HIDDEN_TEXT = "có thể, sau khi nhập PIN / maybe, after the PIN"
KEY_CANNOT_SIGN_TEXT = "không được phép ký / not allowed to sign"
# doctor: why a certificate object on a token was skipped (agent.tokens.module.reading).
UNREADABLE_TEXT = {
    "unsupported_key_algorithm": "loại khóa Kyso không hỗ trợ / a key type Kyso does not support",
    "not_a_certificate": "không phải chứng thư X.509 hợp lệ / not a valid X.509 certificate",
    "token_refused": "token không cho đọc / the token would not give it",
}
REVOCATION_TEXT = {
    "good": "chưa bị thu hồi / not revoked",
    "revoked": "ĐÃ BỊ THU HỒI / REVOKED",
    "unknown": "không kiểm tra được / unknown",
}


def register(sub: Any) -> None:
    """Add tokens, certs and doctor."""
    for name, func, help_text in (
        ("tokens", run_tokens, "list plugged-in tokens"),
        ("certs", run_certs, "list certificates on plugged-in tokens"),
        ("doctor", run_doctor, "check modules, tokens and certificates, and say what is wrong"),
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
                [[t.label, t.serial, t.manufacturer, t.model, _pin_text(t)] for t in tokens],
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


def _pin_text(token: Any) -> str:
    state = token.pin_state.tries_hint or "ok"
    return f"{state}, PIN pad" if token.protected_path else state


def _cert_problems(cert: Any, status: CertStatus | None = None) -> list[str]:
    problems = cert.info.problems()
    if status is not None and status.status == "revoked":
        problems.append("REVOKED")
    if not cert.has_private_key and "CA_CERTIFICATE" not in problems:
        problems.append("NO_PRIVATE_KEY")
    if cert.has_private_key and cert.key_mismatch:
        problems.append("KEY_CERT_MISMATCH")  # the key under its CKA_ID is another's
    if cert.has_private_key and cert.key_cannot_sign:
        problems.append("KEY_CANNOT_SIGN")  # a decryption key under its CKA_ID
    if cert.has_private_key and cert.token.pin_state.locked:
        problems.append("PIN_LOCKED")  # the key is there, but nobody can log in to use it
    return problems


def _cert_warnings(cert: Any) -> list[str]:
    # Usable, but the user should know before typing a PIN.
    state = cert.token.pin_state
    if not cert.has_private_key or state.locked:
        return []
    out = ["KEY_HIDDEN"] if cert.key_hidden else []
    if state.final_try:
        out.append("PIN_FINAL_TRY")
    elif state.count_low:
        out.append("PIN_COUNT_LOW")
    out += cert.info.warnings()  # AMBIGUOUS_IDENTIFIER
    if cert.info.key_type == "EC" and cert.info.mst:
        # A unit's certificate signs XML dossiers; the portals that check them cannot do ECDSA.
        out.append("ECDSA_XML")
    return out


async def run_doctor(args: argparse.Namespace) -> int:
    """Explain what Kyso found and what is wrong with it."""
    async with _service(args) as service:
        tokens = await service.list_tokens()
        certs = await service.list_certificates()
        statuses = service.statuses
        unreadable = {t.key: service.unreadable_certificates(t) for t in tokens}
    revocation = await revocation_statuses(certs)
    report: dict[str, Any] = {
        "modules": [s.__dict__ for s in statuses],
        "tokens": [
            {**t.to_json(), "unreadable_certificates": list(unreadable.get(t.key, ()))}
            for t in tokens
        ],
        "certificates": [
            {
                "token": c.token.label,
                "subject": c.info.subject_display,
                "thumbprint": c.thumbprint,
                "problems": _cert_problems(c, revocation.get(c.thumbprint)),
                "warnings": _cert_warnings(c),
                "pin_state": c.token.pin_state.tries_hint,
                "revocation": (
                    revocation[c.thumbprint].to_json() if c.thumbprint in revocation else None
                ),
            }
            for c in certs
        ],
    }
    findings = _driver_findings(statuses)
    report["driver_findings"] = [f.to_dict() for f in findings]
    report["remote"] = await _remote_report()
    usable = [c for c in report["certificates"] if not c["problems"]]
    usable += [c for c in report["remote"]["credentials"] if not c["problems"]]
    report["ok"] = bool(usable)
    # The agent part (port, trust, settings with their sources) belongs to agent/server.
    from agent.server.diagnose import agent_report, print_agent_report

    report["agent"] = await asyncio.to_thread(agent_report)
    lna = await asyncio.to_thread(_browser_policy, report["agent"])
    report["browser_policy"] = lna.to_json()
    if args.json:
        print_json(report)
        return 0 if usable else 1
    print("PKCS#11 modules:")
    if not statuses:
        print("  none found — install your token's driver or set KYSO_PKCS11_MODULE")
    for s in statuses:
        mark = "OK  " if s.loaded else "FAIL"
        detail = s.description if s.loaded else (s.error or {}).get("message_en", "")
        print(one_line(f"  [{mark}] {s.path} ({s.vendor}, from {s.source}) {detail}"))
    for finding in findings:  # a 32-bit driver, a reader whose CA driver is missing...
        text = {key: one_line(value) for key, value in finding.to_dict().items()}
        print(f"  ! {text['message_vi']}\n    {text['message_en']}\n    → {text['action_vi']}")
    print("Tokens:")
    for t in tokens:
        print(one_line(f"  {t.label} (serial {t.serial}) PIN: {_pin_text(t)}"))
        if unreadable.get(t.key):
            _print_unreadable(unreadable[t.key])
    if not tokens:
        print("  none — plug in your USB token")
    print("Certificates:")
    for c in report["certificates"]:
        status = (
            "usable" if not c["problems"] else "; ".join(PROBLEM_TEXT[p] for p in c["problems"])
        )
        print(one_line(f"  {c['subject']} [{c['token']}, {c['thumbprint'][:12]}] — {status}"))
        for w in c["warnings"]:
            print(f"      ! {WARNING_TEXT[w]}")
        if c["revocation"]:
            r = c["revocation"]
            where = f" ({r['reason']})" if r["status"] == "unknown" else f" ({r['source'].upper()})"
            print(
                f"      tình trạng thu hồi / revocation: {REVOCATION_TEXT[r['status']]}{one_line(where)}"
            )
    _print_remote(report["remote"])
    print_agent_report(report["agent"])
    _print_browser_policy(lna)
    print()
    print(f"{len(usable)} usable certificate(s).")
    return 0 if usable else 1


def _print_unreadable(reasons: tuple[str, ...]) -> None:
    """A token's certificate objects its listing skipped, with why (the others are listed)."""
    why = "; ".join(sorted({UNREADABLE_TEXT.get(r, r) for r in reasons}))
    print(
        f"      ! {len(reasons)} chứng thư số trên token này không đọc được nên không được liệt "
        f"kê / {len(reasons)} certificate(s) on this token could not be read and are not "
        f"listed ({why})"
    )


async def _remote_report() -> dict[str, Any]:
    """Each remote provider's listing (ok, or its error) and its credentials with problems."""
    try:
        credentials, statuses = await remote_listing()
    except KysoError as exc:  # a broken [[remote_providers]] table: say so, go on
        return {"providers": [], "credentials": [], "error": exc.to_dict()}
    revocation = await remote_revocation(credentials)
    rows = []
    for c in credentials:
        problems = c.info.problems()
        if c.details.problem:
            problems.append("REMOTE_DISABLED")
        status = revocation.get(c.thumbprint)
        if status is not None and status.status == "revoked" and "REVOKED" not in problems:
            problems.append("REVOKED")
        rows.append(
            {
                "source": c.source,
                "provider": c.provider.label,
                "subject": c.info.subject_display,
                "thumbprint": c.thumbprint,
                "problems": problems,
                "revocation": status.to_json() if status is not None else None,
            }
        )
    return {"providers": [s.__dict__ for s in statuses.values()], "credentials": rows}


def _print_remote(remote: dict[str, Any]) -> None:
    if not remote["providers"] and not remote.get("error"):
        return
    print("Ký số từ xa / remote signing:")
    if remote.get("error"):
        error = remote["error"]
        print(one_line(f"  [FAIL] {error['message_vi']} / {error['message_en']}"))
    for p in remote["providers"]:
        if p["ok"]:
            print(
                one_line(f"  [OK  ] {p['provider']}: {p['credentials']} chứng thư / credential(s)")
            )
        else:
            error = p["error"] or {}
            print(
                one_line(
                    f"  [FAIL] {p['provider']}: [{error.get('code', '')}] "
                    f"{error.get('message_vi', '')}"
                )
            )
            print(
                one_line(f"         {error.get('message_en', '')} → {error.get('action_vi', '')}")
            )
    for c in remote["credentials"]:
        status = (
            "usable"
            if not c["problems"]
            else "; ".join(PROBLEM_TEXT.get(p, p) for p in c["problems"])
        )
        print(one_line(f"  {c['subject']} [{c['source']}, {c['thumbprint'][:12]}] — {status}"))


def _browser_policy(agent: dict[str, Any]) -> Any:
    """Chrome's and Edge's LocalNetworkAccessAllowedForUrls against the origins Kyso allows."""
    from agent.config import browser_policy

    origins = [row["origin"] for row in agent.get("allowed_origins", [])]
    return browser_policy.check(origins, browser_policy.read_lists())


def _print_browser_policy(lna: Any) -> None:
    """One line per browser list, then what is missing (error) or advised (warning)."""
    print("Trình duyệt / browsers (LocalNetworkAccessAllowedForUrls):")
    if not lna.origins:
        print("  không có cổng nào được cho phép sẵn / no allowed origins to check")
    for b in lna.lists:
        if b.patterns is None:
            state = "không đặt / not set"
        elif b.browser in lna.missing:
            state = "THIẾU / MISSING " + ", ".join(lna.missing[b.browser])
        else:
            state = f"OK ({len(b.patterns)})"
        print(f"  {b.browser}: {state}  [{b.where}]")
        for note in b.notes:
            print(f"      ! {note}")
    for severity, error in lna.findings():
        mark = "!" if severity == "warning" else "✗"
        label = "cảnh báo / warning" if severity == "warning" else "lỗi / error"
        text = error.to_dict()
        print(f"  {mark} [{error.code}, {label}] {text['message_vi']}")
        print(f"    {text['message_en']}\n    → {text['action_vi']}\n    → {text['action_en']}")


def _driver_findings(statuses: Any) -> list[KysoError]:
    """Driver problems doctor explains: wrong bitness, a known reader without its driver."""
    from agent.tokens import diagnosis

    return diagnosis.doctor_findings(
        statuses,
        diagnosis.pcsc_readers(),
        windows=sys.platform == "win32",
        exists=diagnosis.file_exists,
        read_header=diagnosis.read_pe_header,
        agent=diagnosis.agent_machine(),
    )


def _service(args: argparse.Namespace) -> Any:
    return build_token_service(args.module)
