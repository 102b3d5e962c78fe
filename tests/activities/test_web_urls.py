"""The id and link checks that run on every relayed activity: compiled patterns, the same answers
as their definitions (SECURITY.md rule 20)."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from activities.html import is_web_url
from node.services.campaigns import is_http_id

URLS = st.one_of(
    st.text(max_size=60),
    st.builds(lambda scheme, rest: scheme + rest,
              st.sampled_from(["http://", "https://", "HTTPS://", "Http://", "ftp://", ""]),
              st.text(max_size=60)),
)


def _web_url(value) -> bool:
    """is_web_url's definition: http(s), at most 2,048 characters, no whitespace, no control."""
    return isinstance(value, str) and value.lower().startswith(("https://", "http://")) \
        and len(value) <= 2048 and not any(c.isspace() or ord(c) < 32 for c in value)


def _http_id(value) -> bool:
    """is_http_id's definition: an http(s) URL with a host, nothing at or below a space, no DEL."""
    if not isinstance(value, str) or len(value) > 2048 or any(c <= " " or c == "\x7f" for c in value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


@given(URLS)
@example("https://a.example/\u00a0x")  # a no-break space
@example("https://a.example/\u2028")  # a line separator
@example("https://a.example/\x1f")
@example("https://a.example/\x7f")
@example("https://a.example/" + "x" * 2040)
@example("https://a.example/" + "x" * 2031)
@example("HTTPS://A.EXAMPLE/")
def test_web_urls__the_compiled_checks_answer_as_their_definitions(value):
    assert is_web_url(value) == _web_url(value)
    assert is_http_id(value) == _http_id(value)


def test_web_urls__what_is_not_text_is_no_url():
    for value in (None, 3, ["https://a.example/"], {"id": "https://a.example/"}):
        assert not is_web_url(value) and not is_http_id(value)
