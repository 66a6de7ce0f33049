"""One certificate in two places (a backup token; a provider listing it too): every copy is its
own picker row, keyed by certificate AND source, and the row the user picks is the key that
signs and the token whose PIN is asked (red-team T1).

Before: rows were keyed by thumbprint alone. The picker's rows shared one radio value, the
agent signed with whichever copy was listed first (the PIN typed for one token went to the
other), a provider listing the token's certificate as disabled greyed the token's own row, and
the CLI's ``--cert <full thumbprint>`` answered "give more digits", which nothing could fix.
"""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.errors import KysoError
from agent.server.certificate_choice import Candidate, plan_choice
from agent.server.commands.base import candidate, chosen_copy
from agent.ui.terminal import TerminalPrompter
from tests.server.conftest import ORIGIN, Answers, Harness
from tests.server.twin_tokens import LABEL_A, LABEL_B, PIN_A, PIN_B, Twins, twins  # noqa: F401


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _copies(token_service: Any, twins: Twins) -> list[Any]:  # noqa: F811
    listed = await token_service.list_certificates()
    copies = [c for c in listed if c.thumbprint == twins.thumbprint]
    assert sorted(c.token.label for c in copies) == [LABEL_A, LABEL_B]
    return copies


async def test_each_copy_is_its_own_row_and_answers_with_its_own_token(
    twins: Twins,  # noqa: F811
    token_service: Any,
) -> None:
    copies = await _copies(token_service, twins)
    choice = plan_choice(ORIGIN, [candidate(c) for c in copies]).choice
    rows = choice.rows()
    assert len(set(choice.keys())) == 2 and not choice.disabled_keys()
    for number, row in enumerate(rows, start=1):
        # The terminal's numbered list: the number typed is the row returned.
        terminal = TerminalPrompter(
            input_func=lambda _q, typed=str(number): typed,
            pin_func=lambda _q: "",
            output=io.StringIO(),
        )
        picked = await terminal.choose_certificate(choice)
        assert picked == row
        assert chosen_copy(picked, copies).token.label == row.token_label
    # The token's heading is on each copy's rows (label and serial), each its own group.
    headings = [row.token_serial for row in rows]
    assert sorted(headings) == sorted(twins.serials.values())


async def test_a_provider_listing_the_token_certificate_as_disabled_greys_only_its_own_row(
    twins: Twins,  # noqa: F811
    token_service: Any,
) -> None:
    token_copy = (await _copies(token_service, twins))[0]
    hostile = Candidate(
        token_copy.info,
        "",
        "",
        True,
        remote_provider="Nhà cung cấp X",
        remote_disabled=True,
        source=("remote", "x", "its-credential"),
    )
    choice = plan_choice(ORIGIN, [candidate(token_copy), hostile]).choice
    token_row, remote_row = choice.rows()
    assert token_row.usable and not remote_row.usable
    assert token_row.key.text not in choice.disabled_keys()
    assert choice.disabled_keys() == {remote_row.key.text}
    assert choice.pick_row(token_row.key.text) == token_row
    assert choice.default_row() == token_row


async def test_a_page_naming_a_certificate_on_two_tokens_lets_the_user_pick_the_token(
    twins: Twins,  # noqa: F811
    agent: Harness,
    answers: Answers,
) -> None:
    client = await agent.client()
    digest = hashlib.sha256(b"to khai thue thang 12").digest()
    for label, pin in ((LABEL_B, PIN_B), (LABEL_A, PIN_A)):
        answers.set(certificate=f"{twins.thumbprint}@{label}", pin=pin)
        before = len(agent.prompter.prompts)
        result = await client.call(
            "sign.hash", {"digest": b64(digest), "certificate": twins.thumbprint}
        )
        cert = x509.load_der_x509_certificate(base64.b64decode(result["certificate"]))
        cert.public_key().verify(  # type: ignore[union-attr]
            base64.b64decode(result["signature"]),
            digest,
            padding.PKCS1v15(),
            Prehashed(hashes.SHA256()),
        )
        prompts = agent.prompter.prompts[before:]
        # Asked which copy (never silently the first), then the PIN of the token chosen.
        assert [p.kind for p in prompts] == ["certificate", "consent", "pin"]
        assert prompts[2].summary.startswith(label) and prompts[2].answer == "pin"
        assert agent.audit_lines()[-1]["result"] == "OK"


async def test_the_picker_row_chosen_is_the_token_that_signs(
    twins: Twins,  # noqa: F811
    agent: Harness,
    answers: Answers,
) -> None:
    client = await agent.client()
    digest = hashlib.sha256(b"bao cao tai chinh").digest()
    for label, pin in ((LABEL_B, PIN_B), (LABEL_A, PIN_A)):
        # The page names nothing; the user picks the copy on the token named by its serial.
        answers.set(certificate=f"{twins.thumbprint}@{twins.serials[label]}", pin=pin)
        before = len(agent.prompter.prompts)
        result = await client.call("sign.hash", {"digest": b64(digest)})
        assert result["signature"]
        prompts = agent.prompter.prompts[before:]
        assert [p.kind for p in prompts] == ["certificate", "consent", "pin"]
        assert prompts[2].summary.startswith(label)
        titles = [title for title, _ in prompts[0].shown]
        assert sum("NGUYỄN VĂN AN" in t for t in titles) == 2  # both copies offered


async def test_a_scripted_thumbprint_that_names_two_rows_names_none(
    twins: Twins,  # noqa: F811
    token_service: Any,
) -> None:
    choice = plan_choice(ORIGIN, [candidate(c) for c in await _copies(token_service, twins)]).choice
    assert choice.named(twins.thumbprint) is None  # never silently the first
    assert choice.named(f"{twins.thumbprint}@{LABEL_A}").token_label == LABEL_A  # type: ignore[union-attr]


async def test_the_cli_asks_for_token_when_one_thumbprint_is_on_two_tokens(
    twins: Twins,  # noqa: F811
    token_service: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from agent.cli.common import choose_certificate, print_choices_hint

    with pytest.raises(KysoError) as raised:
        await choose_certificate(token_service, twins.thumbprint)
    error = raised.value
    assert error.code == "CERT_CHOICE_NEEDED"
    assert "--token" in error.to_dict()["action_en"]
    for serial in twins.serials.values():  # each copy listed with its token's serial
        assert serial in error.details["choices"]
    print_choices_hint(error)
    assert "add --token <the token's label or serial>" in capsys.readouterr().err
    by_label = await choose_certificate(token_service, twins.thumbprint, LABEL_B)
    assert by_label.token.label == LABEL_B
    by_serial = await choose_certificate(token_service, twins.thumbprint, twins.serials[LABEL_A])
    assert by_serial.token.label == LABEL_A


async def test_the_desktop_file_signer_signs_with_the_copy_the_user_picked(
    twins: Twins,  # noqa: F811
    token_service: Any,
    tmp_path: Any,
) -> None:
    import json

    from agent.cli.filesign_cmd import _certificate
    from agent.ui.scripted import ScriptedPrompter

    path = tmp_path / "answers.json"
    for label in (LABEL_B, LABEL_A):
        path.write_text(json.dumps({"certificate": f"{twins.thumbprint}@{label}"}))
        cert = await _certificate(token_service, ScriptedPrompter(path))
        assert cert.token.label == label


@pytest.mark.parametrize("command", ["sign-xml", "sign-pdf", "sign-cms"])
def test_every_cli_signer_takes_cert_and_token_together(command: str) -> None:
    """The one way to name a copy on a backup token: --cert with --token, in every signer."""
    from agent.cli.main import build_parser

    args = build_parser().parse_args(
        [command, "a.xml", "--cert", "ab" * 32, "--token", "KYSO-DUPHONG"]
    )
    assert (args.cert, args.token) == ("ab" * 32, "KYSO-DUPHONG")
