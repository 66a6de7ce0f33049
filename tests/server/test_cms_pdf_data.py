"""A PDF sent as sign.cms data: the CMS over the bytes a PDF signature covers is a valid
PAdES signature of that PDF, which the page can put into its /Contents. The consent would have
shown "data to sign, 1.8 KB": refused (CMS_DATA_IS_PDF) before any prompt, on every path,
unless the site is trusted with bare hashes (which can sign anything anyway)."""

from __future__ import annotations

import base64

import pytest

from agent.server.consent import looks_like_pdf
from tests.conftest import cert_thumbprint

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\nstartxref\n9\n%%EOF\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# The signed bytes of a PDF as a page would cut them around /Contents; the header after
# junk (readers look within 1024 bytes); no header, no startxref, no %%EOF (poppler rebuilds
# the file from its "N G obj" headers alone, and called such a signature valid).
SHAPES = {
    "whole file": PDF,
    "byte range": PDF[:40] + PDF[60:],
    "header after 1000 bytes": b"\n" * 1000 + PDF,
    "no header": PDF.replace(b"%PDF-1.7", b"%XYZ-1.7") + b"\n" * 500,
    "objects only": b"%KYS-1.7\n" + b"x" * 2000 + b"\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
    "objects only, CR and NUL": b"junk\r12\r\n0\x00obj<</Pages 2 0 R>>",
}


async def test_a_pdf_as_cms_data_is_refused_before_any_prompt(demo, harness) -> None:
    await harness.start(sign_hash_origins=[])
    client = await harness.client()
    org = cert_thumbprint(demo, "org")
    got = {}
    for name, data in SHAPES.items():
        for detached in (True, False):
            params = {"data": b64(data), "detached": detached, "certificate": org}
            reply = await client.request("sign.cms", params)
            got[name, detached] = reply.get("error", {}).get("data", {}).get("code", "SIGNED")
        batch = {"items": [{"kind": "cms", "data": b64(data)}], "certificate": org}
        reply = await client.request("sign.batch", batch)
        got[name, "batch"] = reply.get("error", {}).get("data", {}).get("code", "SIGNED")
    assert set(got.values()) == {"CMS_DATA_IS_PDF"}, got
    assert harness.prompter.prompts == []


async def test_a_site_trusted_with_bare_hashes_is_told_it_signs_a_pdf(demo, agent) -> None:
    client = await agent.client()  # the test portal is in sign_hash_origins
    org = cert_thumbprint(demo, "org")
    await client.call("sign.cms", {"data": b64(PDF), "certificate": org})
    (consent,) = (p for p in agent.prompter.prompts if p.kind == "consent")
    assert "PDF" in repr(consent.shown) and "Dữ liệu cần ký" not in repr(consent.shown)


@pytest.mark.parametrize("data", list(SHAPES.values()))
def test_what_a_pdf_reader_may_open(data: bytes) -> None:
    assert looks_like_pdf(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"data %PDF",
        b"\n" * 1025 + b"%PDF-1.7",
        b"%!PS-Adobe-3.0\n%%EOF\n",
        "Phụ lục 1 0 object số 2".encode(),
        b"version 1 0 objective",
    ],
)
def test_what_it_does_not(data: bytes) -> None:
    assert not looks_like_pdf(data)
