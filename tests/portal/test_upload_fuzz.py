"""Fuzzing the portal's upload path ("Kiểm tra hồ sơ"): whatever arrives, the outcome is a
catalogued error or a result, never a crash or a hang, and a file that passes after being
changed says exactly what the original said (the change was outside what is signed).

Hypothesis runs with the project's profile (tests/conftest.py: derandomized, no deadline);
each test sets its own number of examples so the whole file runs within seconds.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import random
from typing import Any

import pytest
from aiohttp import FormData
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.signing.signer import TokenSigner
from agent.signing.trust import TrustStore
from agent.signing.xml import sign_xml
from agent.tokens.modules import ModuleCandidate
from agent.tokens.pin import StaticPinProvider
from agent.tokens.service import TokenService
from portal_stub.checks import CheckResult, UnitContext, check_dossier
from portal_stub.errors import BY_KEY, PortalError
from tests.portal.helpers import PINS, PortalDriver
from tests.portal.test_dossiers import _dossier

LIMIT = 4 * 1024 * 1024
# What a passing file says; a changed file that still passes must say the same.
FIELDS = (
    "content_digest",
    "dossier_number",
    "procedure",
    "period",
    "unit_name",
    "mst",
    "unit_code",
    "employees",
    "signer_thumbprint",
    "review",
    "forms",
)


async def _sign(demo: dict[str, Any], document: bytes) -> bytes:
    cert = demo["certificates"]["org"]
    service = TokenService([ModuleCandidate(demo["module"], "SoftHSM2 (demo)", "demo", True)])
    await service.start(monitor=False)
    try:
        pin = StaticPinProvider(PINS[cert["token"]])
        async with service.open_key(cert["thumbprint"], pin) as key:
            return await sign_xml(document, TokenSigner(key), profile="bhxh")
    finally:
        await service.close()


@pytest.fixture(scope="module")
def signed(demo: dict[str, Any]) -> bytes:
    """One dossier signed on the SoftHSM2 token, shared by every example."""
    return asyncio.run(_sign(demo, _dossier(number="TA0101234-2026-00500")))


@pytest.fixture(scope="module")
def unit(demo: dict[str, Any]) -> UnitContext:
    """The demo unit, registered for procedure 600."""
    return UnitContext(
        mst="0101234567",
        unit_code="TA0101234",
        cert_thumbprint=demo["certificates"]["org"]["thumbprint"],
        types={"600": "registered", "602": "stopped"},
        catalogue={"600": "Báo tăng", "601": "Cấp lại", "602": "Truy đóng"},
    )


class Upload:
    """The check as the portal runs it, with the outcome classified."""

    def __init__(self, unit: UnitContext, trust: TrustStore) -> None:
        self.unit = unit
        self.trust = trust

    def __call__(self, data: bytes) -> CheckResult | PortalError:
        try:
            return check_dossier(
                data, self.unit, self.trust, now=dt.datetime.now(dt.UTC), max_bytes=LIMIT
            )
        except PortalError as exc:  # anything else propagates: a crash fails the test
            assert exc.key in BY_KEY and exc.code != "E501", exc.to_dict()
            return exc


@pytest.fixture(scope="module")
def upload(unit: UnitContext, portal_trust: TrustStore) -> Upload:
    """check_dossier for the demo unit."""
    return Upload(unit, portal_trust)


@pytest.fixture(scope="module")
def original(upload: Upload, signed: bytes) -> dict[str, Any]:
    """What the unchanged signed file says."""
    result = upload(signed)
    assert isinstance(result, CheckResult), result
    return {k: getattr(result, k) for k in FIELDS}


def _same_or_refused(
    outcome: CheckResult | PortalError, original: dict[str, Any], data: bytes
) -> None:
    if isinstance(outcome, CheckResult):
        assert {k: getattr(outcome, k) for k in FIELDS} == original, data[:300]


# --- random input -------------------------------------------------------------------------------


@settings(max_examples=150)
@given(data=st.binary(max_size=2048))
def test_random_bytes_get_a_catalogued_error(upload: Upload, data: bytes) -> None:
    assert isinstance(upload(data), PortalError)


_MARKUP = st.text(
    alphabet=st.sampled_from(list("<>/=\"' !?-[]&#;:xmlnsHoNiDug01\n\t\r\x00é\u0300")),
    max_size=300,
)


@settings(max_examples=150)
@given(prefix=st.sampled_from(["", "<?xml version='1.0'?>", "\ufeff", "<Hoso>"]), body=_MARKUP)
def test_random_markup_gets_a_catalogued_error(upload: Upload, prefix: str, body: str) -> None:
    assert isinstance(upload((prefix + body).encode("utf-8", "surrogatepass")), PortalError)


# --- mutations of a valid signed dossier -------------------------------------------------------

_OPS = st.tuples(
    st.sampled_from(["delete", "insert", "replace", "duplicate"]),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.integers(min_value=1, max_value=40),
    # Random bytes are mostly invalid UTF-8; markup characters reach the later checks.
    st.binary(min_size=1, max_size=8)
    | st.text(alphabet="<>/ =\"'&;#!-?[]aHo019\n", min_size=1, max_size=8).map(str.encode),
)


def _mutate(data: bytes, ops: list[tuple[str, float, int, bytes]]) -> bytes:
    for op, where, length, payload in ops:
        pos = int(where * len(data))
        if op == "delete":
            data = data[:pos] + data[pos + length :]
        elif op == "insert":
            data = data[:pos] + payload + data[pos:]
        elif op == "replace":
            data = data[:pos] + payload + data[pos + len(payload) :]
        else:
            data = data[:pos] + data[pos : pos + length] + data[pos:]
    return data


@settings(max_examples=120)
@given(ops=st.lists(_OPS, min_size=1, max_size=3))
def test_mutated_signed_dossier_is_refused_or_unchanged(
    upload: Upload, signed: bytes, original: dict[str, Any], ops: list[Any]
) -> None:
    data = _mutate(signed, ops)
    _same_or_refused(upload(data), original, data)


# XML constructs that C14N (and so the signature) treats differently from a naive reader.
SNIPPETS = [
    b"<!---->",
    b"<!-- x -->",
    b"<?pi data?>",
    b"<![CDATA[1]]>",
    b"<![CDATA[</SoHoSo>]]>",
    b"&#49;",
    b"&#x0;",
    b"&amp;",
    b"&xxe;",
    b'<!DOCTYPE Hoso [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b"<SoHoSo>TA0101234-2026-99999</SoHoSo>",
    b"<NoiDung/>",
    b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>',
    b' xmlns="urn:evil"',
    b' xml:space="preserve"',
    b' Id="x"',
    b"\r\n",
    b"\x00",
    b"\xff\xfe",
    b" ",
    "\u00a0".encode(),
    "\u200b".encode(),
]


@settings(max_examples=150)
@given(
    where=st.floats(min_value=0, max_value=1, allow_nan=False),
    snippet=st.sampled_from(SNIPPETS),
    after=st.booleans(),
)
def test_xml_tricks_at_markup_boundaries(
    upload: Upload,
    signed: bytes,
    original: dict[str, Any],
    where: float,
    snippet: bytes,
    after: bool,
) -> None:
    # At a "<" or just after a ">": inside text, between elements, or inside a tag.
    marks = [i for i, b in enumerate(signed) if b == ord("<")] + [
        i + 1 for i, b in enumerate(signed) if b == ord(">")
    ]
    marks.sort()
    pos = marks[int(where * (len(marks) - 1))] - (1 if after and marks else 0)
    pos = max(pos, 0)
    data = signed[:pos] + snippet + signed[pos:]
    _same_or_refused(upload(data), original, data)


# --- huge and deep ------------------------------------------------------------------------------

HOSTILE = {
    "deep": b"<Hoso>" + b"<a>" * 100_000 + b"</a>" * 100_000 + b"</Hoso>",
    "deep, unclosed": b"<Hoso>" + b"<a>" * 300_000,
    "wide": b"<Hoso>" + b"<a/>" * 400_000 + b"</Hoso>",
    "long text": b"<Hoso>" + b"x" * (LIMIT - 100) + b"</Hoso>",
    "long name": b"<" + b"H" * 1_000_000 + b"/>",
    "many attributes": b"<Hoso " + b" ".join(b"a%d='1'" % i for i in range(50_000)) + b"/>",
    "many namespaces": b"<Hoso "
    + b" ".join(b"xmlns:n%d='urn:%d'" % (i, i) for i in range(20_000))
    + b"><NoiDung/></Hoso>",
    "over the limit": b"<Hoso>" + b" " * LIMIT + b"</Hoso>",
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        b'<!ENTITY %c "&%c;&%c;&%c;&%c;">' % (98 + i, 97 + i, 97 + i, 97 + i, 97 + i)
        for i in range(8)
    )
    + b"]><Hoso>&i;</Hoso>",
    "utf-16": "<Hoso/>".encode("utf-16"),
    "only a BOM": b"\xef\xbb\xbf",
    "nul bytes": b"\x00" * 1000,
    "deep form file": None,
    "huge form file": None,
}


def _with_form(form: bytes) -> bytes:
    root = etree.fromstring(_dossier(number="TA0101234-2026-00501"))
    holder = root.find("NoiDung/ThongTinHoSo/ToKhais/FileToKhai/NoiDungFile")
    assert holder is not None
    holder.text = base64.b64encode(form).decode()
    return etree.tostring(root)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_refused_without_hanging(upload: Upload, name: str) -> None:
    data = HOSTILE[name]
    if name == "deep form file":
        data = _with_form(b"<ToKhai>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</ToKhai>")
    elif name == "huge form file":
        data = _with_form(b"<ToKhai>" + b"<a/>" * 200_000 + b"</ToKhai>")
    assert data is not None
    outcome = upload(data)
    assert isinstance(outcome, PortalError), name


# --- through HTTP: every way of sending the file ------------------------------------------------


def _noise(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)  # fixed seed: the same cases on every run
    return [rng.randbytes(rng.randint(0, 3000)) for _ in range(count)]


async def test_every_upload_route_answers_with_a_catalogued_error(portal: PortalDriver) -> None:
    await portal.register_and_login()
    codes = {row.code for row in BY_KEY.values()} - {"E501"}
    cases: list[tuple[str, dict[str, Any]]] = []
    for blob in [*_noise(7, 20), b"", b"<Hoso/>", b"\xef\xbb\xbf<Hoso>"]:
        cases.append(("xml", {"data": blob, "headers": {"Content-Type": "application/xml"}}))
        cases.append(("json", {"json": {"document": base64.b64encode(blob).decode()}}))
    for body in (
        {"document": 5},
        {"document": None},
        {"document": ["a"]},
        {"document": "not base64!"},
        {"document": "A" * 10_001},
        {},
    ):
        cases.append(("json", {"json": body}))
    for raw in (b"[]", b"null", b"{", b'"x"', b"\xff"):
        cases.append(("json", {"data": raw, "headers": {"Content-Type": "application/json"}}))
    for name, kwargs in cases:
        status, body = await portal.request("POST", "/api/v1/dossiers/check", **kwargs)
        assert 400 <= status < 500, (name, kwargs, body)
        assert body["error"]["code"] in codes, (name, body)
    # The page's form: the chosen file, or the document the bridge just signed.
    headers = {"Authorization": f"Bearer {portal.bearer}"}
    for blob in _noise(8, 5):
        for field in ("ho_so", "signed_document"):
            form = FormData()
            if field == "ho_so":
                form.add_field(field, blob, filename="hoso.xml", content_type="text/xml")
            else:
                form.add_field(field, base64.b64encode(blob).decode())
            resp = await portal.client.post("/nop-ho-so/kiem-tra", data=form, headers=headers)
            text = await resp.text()
            assert 400 <= resp.status < 500 and "Mã lỗi E" in text and "E501" not in text
