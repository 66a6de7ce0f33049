"""A broken or hostile service gets a stable code, never a crash: any JSON where a
credentials/info or an error answer belongs is parsed or refused with REMOTE_* codes."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.errors import KysoError
from agent.remote.csc import CredentialDetails, parse_credential_info
from agent.remote.http import classify
from agent.remote.providers import parse_provider

PROVIDER = parse_provider({"name": "p", "base_url": "https://csc.example.vn"})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(["key", "cert", "auth", "PIN", "OTP", "SCAL", "multisign", "authMode"])


@given(st.dictionaries(keys, json_values, max_size=8))
def test_any_credentials_info_answer_is_parsed_or_refused(body: dict[str, Any]) -> None:
    try:
        result = parse_credential_info(PROVIDER, "c1", body)
    except KysoError as exc:
        assert exc.code == "REMOTE_PROTOCOL_ERROR"
    else:
        assert isinstance(result, CredentialDetails)


@given(st.integers(100, 599), json_values, st.booleans())
def test_any_error_answer_has_a_remote_code(status: int, body: Any, sent_token: bool) -> None:
    err = classify(PROVIDER, "m", status, body, credential="c1", sent_token=sent_token)
    assert err.code.startswith("REMOTE_")
    # Only a checked word travels: no free text from the service reaches the page.
    for value in err.to_dict()["details"].values():
        assert not isinstance(value, str) or len(value) <= 200
