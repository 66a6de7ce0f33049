"""``kyso-agent doctor``: modules, tokens, certificates, remote providers and browser policy,
and what is wrong with each, with what to do (split from agent.cli.tokens_cmd)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from agent.cli.common import add_module_argument
from agent.cli.compose import build_token_service
from agent.cli.output import one_line, print_json
from agent.cli.tokens_cmd import (
    pin_text,
    remote_listing,
    remote_revocation,
    revocation_statuses,
)
from agent.errors import KysoError
from agent.signing.certstatus import CertStatus


def register(sub: Any) -> None:
    """Add doctor."""
    help_text = "check modules, tokens and certificates, and say what is wrong"
    p = sub.add_parser("doctor", help=help_text, description=help_text)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_module_argument(p)
    p.set_defaults(func=run_doctor)


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
    async with build_token_service(args.module) as service:
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
        print(one_line(f"  {t.label} (serial {t.serial}) PIN: {pin_text(t)}"))
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
