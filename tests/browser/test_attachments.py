""" "Ký tệp đính kèm" in a real browser: the user attaches scanned PDFs on the dossier page,
"Ký và nộp" signs the dossier and every PDF through the bridge and the agent (one sign.batch:
one consent, one PIN, SoftHSM2), the portal verifies them, and the receipt lists them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from tests.browser import harness, pages
from tests.browser.conftest import Stack
from tests.signing_pdf.conftest import make_pdf

pytestmark = pytest.mark.browser


def test_attached_pdfs_are_signed_with_the_dossier_and_listed_on_the_receipt(
    stack: Stack, portal: str, page: Any, tmp_path: Path
) -> None:
    pages.register(page, portal)
    user, password = pages.read_account_mail(page, portal)
    assert password
    pages.login(page, portal, user, password)
    pages.prepare_dossier(page, portal)

    contract = tmp_path / "hợp đồng lao động.pdf"
    contract.write_bytes(make_pdf(3, title="Hợp đồng lao động số 12"))
    form = pages.wait_attached(page, "sign-dossier")
    form.locator("input[data-kyso-attachments]").set_input_files([str(contract)])
    harness.screenshot(page, "11-ky-tep-dinh-kem")
    pages.press(form, "Ký và nộp")
    page.get_by_role("heading", name="Kiểm tra hồ sơ").wait_for()
    row = page.locator("tr[data-attachment]")
    assert row.count() == 1
    checked = row.inner_text()
    assert "hợp đồng lao động.pdf" in checked and "Hợp đồng lao động số 12" in checked
    assert "0101234567" in checked and "(giờ Việt Nam)" in checked
    harness.screenshot(page, "12-kiem-tra-dinh-kem")

    receipt = pages.submit_checked(page)
    assert receipt
    row = page.locator("tr[data-attachment]")
    listed = row.inner_text()
    assert "hợp đồng lao động.pdf" in listed and "\t3\t" in listed
    harness.screenshot(page, "13-bien-nhan-dinh-kem")

    # What the portal kept is the signed file: it differs from the chosen one, carries one
    # signature, and its SHA-256 is the one on the receipt.
    with page.expect_download() as info:
        row.get_by_role("link").click()
    signed = Path(info.value.path()).read_bytes()
    assert signed.startswith(contract.read_bytes()[:8]) and signed != contract.read_bytes()
    assert hashlib.sha256(signed).hexdigest() in listed
    with Path(info.value.path()).open("rb") as handle:
        assert len(PdfFileReader(handle).embedded_regular_signatures) == 1
