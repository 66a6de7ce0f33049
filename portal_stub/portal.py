"""The portal's services wired together, and the flows shared by the pages and the JSON API.

Pages and API differ only in how they read input and show results; every rule lives here or
below (accounts, challenges, checks, dossiers), so both behave the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any

from agent.signing.trust import TrustStore
from agent.tokens.certinfo import parse_certificate
from portal_stub.account_requests import build_request, decode_signed
from portal_stub.accounts import AccountService
from portal_stub.attachments import (
    Attachment,
    AttachmentResult,
    check_attachments,
    check_limits,
)
from portal_stub.certwords import parse_device
from portal_stub.challenges import Challenge, ChallengeService, SignedRequest
from portal_stub.checks import CheckResult, check_dossier
from portal_stub.config import PortalConfig
from portal_stub.db import Database
from portal_stub.dossiers import DossierService
from portal_stub.drafts import DraftVersion
from portal_stub.errors import PortalError
from portal_stub.forms import CANCEL_REASONS, Bound, bound_fields
from portal_stub.mail import send_mail
from portal_stub.security import fields_hash
from portal_stub.sessions import Session, SessionStore
from portal_stub.timefmt import when

ACTION_DONE_VI = {
    "register": "Đăng ký giao dịch điện tử thành công. Tài khoản đã được gửi tới thư điện tử {email}.",
    "register-again": "Đăng ký lại thành công. Đơn vị tiếp tục dùng tài khoản cũ ({username}); "
    "thư xác nhận đã được gửi tới {email}.",
    "add-types": "Đã đăng ký thêm hồ sơ: {types}.",
    "stop-types": "Đã đăng ký ngừng hồ sơ: {types}.",
    "cancel": 'Đơn vị đã ngưng sử dụng dịch vụ BHXH điện tử. Khi cần, chọn "Đăng ký" để đăng ký '
    "lại (tiếp tục dùng tài khoản cũ).",
    "change-details": "Đã thay đổi thông tin đăng ký.",
    "change-certificate": "Đã thay đổi chứng thư số của đơn vị. Từ nay chỉ chấp nhận chữ ký bằng "
    "chứng thư số mới.",
}


@dataclass
class Portal:
    """All services of one running portal."""

    config: PortalConfig
    db: Database
    trust: TrustStore
    sessions: SessionStore
    accounts: AccountService
    challenges: ChallengeService
    dossiers: DossierService

    @classmethod
    def create(cls, config: PortalConfig, trust: TrustStore) -> Portal:
        """Open the database (migrating it) and build the services."""
        db = Database(config.db_path)
        return cls(
            config=config,
            db=db,
            trust=trust,
            sessions=SessionStore(db, config),
            accounts=AccountService(db, config),
            challenges=ChallengeService(db, config, trust),
            dossiers=DossierService(db, config),
        )

    # --- catalogues -------------------------------------------------------------------------------

    def offices(self) -> list[sqlite3.Row]:
        """ "Danh mục cơ quan BHXH"."""
        return self.db.all("SELECT * FROM offices ORDER BY code")

    def dossier_types(self) -> list[sqlite3.Row]:
        """ "Danh mục hồ sơ"."""
        return self.db.all("SELECT * FROM dossier_types ORDER BY procedure")

    def _known(self) -> tuple[set[str], set[str]]:
        return {r["code"] for r in self.offices()}, {r["procedure"] for r in self.dossier_types()}

    # --- accounts ---------------------------------------------------------------------------------

    def account_for(self, session: Session | None) -> sqlite3.Row | None:
        """The active account of a session (None when anonymous)."""
        if session is None or session.account_id is None:
            return None
        account = self.accounts.get(session.account_id)
        if account is None or account["status"] != "active":
            return None
        return account

    def bind(self, action: str, fields: Any, account: sqlite3.Row | None) -> Bound:
        """Validate a form for ``action`` and compute what its signature must bind."""
        offices, types = self._known()
        return bound_fields(
            action,
            fields,
            username=account["username"] if account else None,
            offices=offices,
            types=types,
        )

    def issue_challenge(
        self,
        action: str,
        fields: Any,
        account: sqlite3.Row | None,
        session: Session | None,
        client: str | None = None,
    ) -> Challenge:
        """A challenge for ``action`` bound to the form values, with the request document the
        unit will sign (built from the validated values and the account's current details).
        ``client`` is the asker's address (challenges without an account are counted by it)."""
        if action == "register":
            account = None  # registering is for a unit that has no session of its own
        elif account is None:
            raise PortalError("LOGIN_REQUIRED")
        bound = self.bind(action, fields, account)
        values = dict(bound.fields)
        if action == "cancel":
            values["ly_do_text"] = CANCEL_REASONS[values["ly_do"]]
        old_certificate = ""
        if action == "change-certificate" and account is not None and account["cert_der"]:
            old_certificate = parse_certificate(bytes(account["cert_der"])).subject_display
        catalogue = {r["procedure"]: r["name"] for r in self.dossier_types()}
        offices = {r["code"]: r["name"] for r in self.offices()}

        def build(nonce: str, at: dt.datetime) -> bytes:
            # Raises FORM_INVALID for a change that changes nothing, before anything is stored.
            return build_request(
                action,
                values,
                nonce=nonce,
                origin=self.config.public_origin,
                at=at,
                account=dict(account) if account is not None else None,
                catalogue=catalogue,
                offices=offices,
                old_certificate=old_certificate,
            )

        return self.challenges.issue(
            action,
            fields_hash(bound.action, bound.fields),
            build,
            account_id=account["id"] if account else None,
            session_hash=_cookie_session(session),
            client=client,
        )

    async def perform(
        self,
        action: str,
        fields: Any,
        *,
        signed_raw: Any,
        account: sqlite3.Row | None,
        device: Any = None,
        session: Session | None = None,
    ) -> dict[str, Any]:
        """Verify the signed request for ``action`` and apply the change. A change of the
        account's certificate or details ends its other sessions (``session`` is kept).

        ``device`` is the page's ``thiet_bi`` field (where Kyso said the certificate lives),
        kept for register and change-certificate when it names the signing certificate.
        Returns ``{"action", "message_vi", ...}``. Raises PortalError with a catalogue code.
        """
        if action != "register" and account is None:
            raise PortalError("LOGIN_REQUIRED")
        bound = self.bind(action, fields, account)
        signed = await self.challenges.consume(
            decode_signed(signed_raw),
            action=action,
            fields_hash=fields_hash(bound.action, bound.fields),
            account_id=account["id"] if account else None,
            session_hash=_cookie_session(session),
        )
        result = await self._apply(bound, signed, account, device)
        if account is not None and bound.action in ("change-details", "change-certificate"):
            self.sessions.end_others(account["id"], keep=session)
        return result

    async def _apply(
        self, bound: Bound, signed: SignedRequest, account: sqlite3.Row | None, device: Any
    ) -> dict[str, Any]:
        values = bound.fields
        cert = signed.verification.signer
        device_json = parse_device(device, cert.thumbprint)
        result: dict[str, Any] = {
            "action": bound.action,
            "certificate": cert.subject_display,
            "request_sha256": signed.sha256,
        }
        if bound.action == "register":
            reg = self.accounts.register(values, signed, device_json)
            key = "register-again" if reg.reactivated else "register"
            try:
                await self._mail_account(reg.account, reg.password)
            except Exception:  # PortalError, or a mail that could not even be composed
                # The password exists only in that mail: without it the new account is useless
                # (and would block a retry with E104), so it is taken back.
                if not reg.reactivated:
                    self.accounts.forget(reg.account["id"])
                raise
            result.update(
                username=reg.account["username"],
                reactivated=reg.reactivated,
                email=reg.account["email"],
            )
            result["message_vi"] = ACTION_DONE_VI[key].format(
                email=reg.account["email"], username=reg.account["username"]
            )
            return result
        assert account is not None
        if bound.action == "add-types":
            self.accounts.add_types(account, values["loai_ho_so"], signed)
        elif bound.action == "stop-types":
            self.accounts.stop_types(account, values["loai_ho_so"], signed)
        elif bound.action == "cancel":
            self.accounts.cancel(
                account, {"ly_do": values["ly_do"], "ghi_chu": values["ghi_chu"]}, signed
            )
        elif bound.action == "change-details":
            self.accounts.change_details(account, values, signed)
        elif bound.action == "change-certificate":
            self.accounts.change_certificate(account, signed, device_json)
        result["message_vi"] = ACTION_DONE_VI[bound.action].format(
            types=", ".join(values.get("loai_ho_so", []))
        )
        return result

    async def _mail_account(self, account: sqlite3.Row, password: str | None) -> None:
        origin = self.config.public_origin
        if password is not None:
            subject = "Tài khoản giao dịch BHXH điện tử của đơn vị"
            credentials = f"Tên đăng nhập: {account['username']}\nMật khẩu: {password}\n"
            advice = "Hãy giữ bí mật mật khẩu này."
        else:
            subject = "Đăng ký lại giao dịch BHXH điện tử: tiếp tục dùng tài khoản cũ"
            credentials = (
                f"Tên đăng nhập: {account['username']}\n"
                "Mật khẩu: không đổi (mật khẩu đã được cấp trước đây).\n"
            )
            advice = "Theo quy định, hệ thống không cấp tài khoản mới khi đơn vị đăng ký lại."
        body = (
            f"Kính gửi {account['unit_name']} (MST {account['mst']}),\n\n"
            "Đơn vị đã đăng ký giao dịch BHXH điện tử thành công "
            f"lúc {when(self.config.clock())}.\n\n"
            f"{credentials}\nĐăng nhập tại: {origin}/dang-nhap\n{advice}\n\n"
            "Thư này được gửi tự động, xin đừng trả lời.\n"
            "Cổng giao dịch BHXH điện tử (bản thử nghiệm Kyso)\n"
        )
        await send_mail(self.config, account["email"], subject, body)

    # --- dossiers ---------------------------------------------------------------------------------

    async def _check_off_loop(self, account: sqlite3.Row, data: bytes) -> CheckResult:
        """Every check of a dossier for this unit, in a thread (parsing a 20 MB file blocks)."""
        unit = self.dossiers.unit_context(account, self.accounts.types(account["id"]))
        return await asyncio.to_thread(
            check_dossier,
            data,
            unit,
            self.trust,
            now=self.config.clock(),
            max_bytes=self.config.max_upload_bytes,
        )

    async def _check_attachments(
        self, account: sqlite3.Row, files: list[Attachment]
    ) -> list[AttachmentResult]:
        """Each PDF attachment signed, unchanged since, and by this unit (off the event loop)."""
        return await check_attachments(
            files,
            self.trust,
            mst=account["mst"],
            max_files=self.config.max_attachments,
            max_bytes=self.config.max_attachment_bytes,
        )

    async def check(
        self,
        account: sqlite3.Row,
        data: bytes,
        attachments: list[Attachment] | None = None,
        draft: DraftVersion | None = None,
    ) -> tuple[str, CheckResult, list[AttachmentResult]]:
        """ "Kiểm tra hồ sơ": all checks off the event loop, the dossier's first, then each
        attachment's; returns (upload id, findings, what each attachment is).

        ``draft``: the draft version the page showed when it signed ("Ký và nộp"). It must
        still be the saved one (E422), and what was signed must be its export (E423).
        """
        files = attachments or []
        # The cheap limits before the dossier's check: a 200 MB upload is refused at once.
        check_limits(
            files,
            max_files=self.config.max_attachments,
            max_bytes=self.config.max_attachment_bytes,
        )
        # Before the slow check: a stale page is told so at once.
        expected = self.dossiers.export_digest(account, draft) if draft else ""
        result = await self._check_off_loop(account, data)
        if draft is not None:
            self.dossiers.require_signed_from(account, draft, result, expected)
        self.dossiers.refuse_duplicate(account["id"], result)
        found = await self._check_attachments(account, files)
        if draft is not None:
            self.dossiers.current(account["id"], draft)  # saved again during the checks?
        upload_id = self.dossiers.store_upload(account["id"], data, result, files, draft)
        return upload_id, result, found

    async def submit(self, account: sqlite3.Row, upload_id: str) -> sqlite3.Row:
        """ "Nộp hồ sơ" of a checked upload: checked again (certificates may have been revoked
        meanwhile), attachments too, then recorded with a receipt. An upload signed from a
        draft page is refused (E422) once that draft has been saved again."""
        upload = self.dossiers.upload(account["id"], upload_id)
        data = bytes(upload["content"])
        files = self.dossiers.upload_attachments(upload_id)
        result = await self._check_off_loop(account, data)
        found = await self._check_attachments(account, files)
        return self.dossiers.submit(
            account["id"], upload_id, data, result, list(zip(files, found, strict=True))
        )


def _cookie_session(session: Session | None) -> str | None:
    """The hash a challenge is bound to: a page's cookie session (API clients are bound by
    their account only, as documented)."""
    return session.token_hash if session is not None and session.kind == "cookie" else None
