"""``without_secret`` removes a key only when it is long enough to be one, and the part of it a
cut quote ends in; ``mask_keys`` masks key-shaped strings, not words; errors print masked."""

from __future__ import annotations

import pytest

from axio_transport_anthropic import AnthropicTransport, APIStatusError
from axio_transport_anthropic.redaction import MIN_SECRET_LENGTH, REDACTED, mask_keys, without_secret
from axio_transport_anthropic.simulator import Simulator

from .support import collect

KEY = "sk-ant-api03-0123456789abcdefghij"


@pytest.mark.parametrize("secret", ["k", "key", "abc1234", "x" * (MIN_SECRET_LENGTH - 1)])
def test_a_secret_too_short_to_be_one_is_not_looked_for(secret: str) -> None:
    text = f"not known: {secret} is an invalid x-api-key; key abc1234 xxxxxxx"
    assert without_secret(text, secret) == text


def test_a_secret_long_enough_is_removed_wherever_it_is() -> None:
    assert without_secret(f"{KEY} and {KEY}!", KEY) == f"{REDACTED} and {REDACTED}!"
    assert without_secret("a password8 here", "password8") == f"a {REDACTED} here"
    assert without_secret("nothing here", KEY) == "nothing here"
    assert without_secret("", KEY) == "" and without_secret("anything", "") == "anything"


def test_a_quote_cut_mid_key_loses_the_part_it_ends_in() -> None:
    for kept in range(MIN_SECRET_LENGTH, len(KEY)):
        assert without_secret(f"x-api-key={KEY[:kept]}", KEY) == f"x-api-key={REDACTED}"
    # Shorter than a secret can be, or not at the end: no cut, not the key.
    short = KEY[: MIN_SECRET_LENGTH - 1]
    assert without_secret(f"x-api-key={short}", KEY) == f"x-api-key={short}"
    assert without_secret(f"{KEY[:20]} then more", KEY) == f"{KEY[:20]} then more"
    # The key in full, then its start where the cut fell.
    assert without_secret(f"{KEY}, {KEY[:12]}", KEY) == f"{REDACTED}, {REDACTED}"


async def test_a_one_letter_key_leaves_the_server_message_whole() -> None:
    async with Simulator(api_key="other") as sim:
        transport = AnthropicTransport(api_key="k", base_url=sim.base_url, max_retries=0)
        with pytest.raises(APIStatusError) as caught:
            await collect(transport)
    assert caught.value.message == "invalid x-api-key"
    assert "[redacted]" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "task-runner-42 failed",
        "disk-space-low on /var",
        "Risk-adjusted score",
        "ask-the-user first",
        "sk-short",  # too short to be a key
    ],
)
def test_words_are_not_keys(text: str) -> None:
    assert mask_keys(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"key={KEY} next", "key=sk-*** next"),
        (f"'x-api-key': '{KEY}'", "'x-api-key': 'sk-***'"),
        (f"api_key=\x1b[35m{KEY}\x1b[0m", "api_key=\x1b[35msk-***\x1b[0m"),  # a console colour before it
        (f"Bearer {KEY}", "Bearer sk-***"),
    ],
)
def test_key_shaped_strings_are_masked(text: str, masked: str) -> None:
    assert mask_keys(text) == masked


def test_an_error_prints_no_key_shaped_string() -> None:
    error = APIStatusError(f"proxy saw {KEY}", status=502, error_type=KEY, request_id="req_1")
    assert KEY not in str(error) and KEY not in repr(error)
    assert str(error) == "Anthropic HTTP 502 sk-***: proxy saw sk-***; request-id req_1; after 1 attempt"
    assert repr(error).endswith("message='proxy saw sk-***')")
