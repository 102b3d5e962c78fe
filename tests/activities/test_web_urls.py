"""The id and link checks that run on every relayed activity: compiled patterns, the same answers
as their definitions (SECURITY.md rule 20)."""

from __future__ import annotations

from urllib.parse import urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from activities.html import is_web_url
from activities.normalize import _netloc, host_of
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


def _host(value: str) -> str | Exception:
    """host_of's definition: urlsplit's netloc, lower-cased (or the error urlsplit raises)."""
    try:
        return urlsplit(value).netloc.lower()
    except ValueError as exc:
        return exc


HOSTS = st.builds(lambda scheme, host, rest: scheme + host + rest,
                  st.sampled_from(["http://", "https://", "HTTP://", "http:/", "http:", ""]),
                  st.text(alphabet="aZ09.-:@[]% \t\r\n\x00\x7f\u00e9\uff0e", max_size=20),
                  st.text(alphabet="/?#aZ@:[] \t\n", max_size=20))


@given(st.one_of(URLS, HOSTS))
@example("https://A.Example:8443/x?y#z")
@example("http://user@a.example/")
@example("http://a.example?x/y")
@example("http://a.example#x/y")
@example("https://a.example")
@example("http://[::1]:80/")
@example("http://[::1/")
@example("http://a.example /x")
@example("http://a.exa\tmple/")
@example("http://a.\uff0eexample/")
def test_host_of__the_fast_path_answers_as_urlsplit(value):
    """host_of reads plain http(s) ids without urlsplit; its answer (or error) is urlsplit's."""
    _netloc.cache_clear()
    expected = _host(value)
    try:
        got = host_of(value)
    except ValueError as exc:
        got = exc
    if isinstance(expected, Exception):
        assert isinstance(got, ValueError) and str(got) == str(expected)
    else:
        assert got == expected


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
