"""An embedded form (base64 ``NoiDungFile``) Kyso cannot read is refused, not skipped.

Red-team finding: the summary skipped a form it could not parse, and with it the check that the
form names the dossier's unit. A form in UTF-16, declaring windows-1258 or carrying a DOCTYPE,
naming another unit, rode inside a dossier of the certificate's unit and was signed; Java and
.NET portals read such forms.
"""

from __future__ import annotations

import base64

import pytest

from agent.errors import KysoError
from agent.signing.xml import summarize_xml
from tests.server.test_methods import dossier, form_file

OTHER = "0109999999"
FORM = form_file()  # the unit's own D02-TS, UTF-8


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def with_form(content: str) -> bytes:
    """The unit's dossier with ``content`` in place of its form's base64."""
    document = dossier().replace(b64(FORM).encode(), content.encode())
    assert document != dossier()
    return document


def utf16(form: bytes) -> bytes:
    return ('<?xml version="1.0" encoding="utf-16"?>' + form.decode()).encode("utf-16")


UNREADABLE = {
    "windows-1258, another unit": b64(
        b'<?xml version="1.0" encoding="windows-1258"?>' + form_file(OTHER)
    ),
    "doctype, another unit": b64(b"<!DOCTYPE ToKhai>" + form_file(OTHER)),
    "utf-16, another unit": b64(utf16(form_file(OTHER))),
    "utf-16, the unit itself": b64(utf16(FORM)),  # Kyso cannot tell: refused all the same
    "not base64": b64(form_file(OTHER)).replace("A", "!", 1),
    "not xml": b64(b"PK\x03\x04 a zip, perhaps"),
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_an_unreadable_form_is_refused(name: str) -> None:
    with pytest.raises(KysoError) as err:
        summarize_xml(with_form(UNREADABLE[name]))
    assert err.value.code == "XML_FIELD_AMBIGUOUS"
    assert "NoiDungFile" in err.value.message_en and "D02-TS" in err.value.message_en


def test_readable_forms_still_summarised_and_checked() -> None:
    # Base64 broken over lines, as exporters write it: read.
    wrapped = "\r\n".join(b64(FORM)[i : i + 76] for i in range(0, len(b64(FORM)), 76))
    lines = dict(summarize_xml(with_form(wrapped)).lines)
    assert lines["Số lao động"] == "1" and lines["Mã số thuế"] == "0101234567"
    # The control: a readable form of another unit was, and is, refused.
    with pytest.raises(KysoError) as err:
        summarize_xml(with_form(b64(form_file(OTHER))))
    assert err.value.code == "XML_FIELD_AMBIGUOUS"
