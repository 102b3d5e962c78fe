"""Instance policy: which signers' key ids are refused (403) under the node's domain blocks."""

import pytest

from federation.policy import is_blocked

BLOCKED = {"spam.example", "127.0.0.1"}


@pytest.mark.parametrize(("key_id", "refused"), [
    ("https://spam.example/users/a#main-key", True),
    ("https://a.b.spam.example/actor#key", True),  # subdomains are covered
    ("https://SPAM.EXAMPLE:8443/actor#key", True),  # case and port do not matter
    ("http://127.0.0.1:5555/users/alice#main-key", True),
    ("https://notspam.example/users/a#main-key", False),
    ("https://spam.example.org/users/a#main-key", False),
    ("https://127.0.0.10/actor#key", False),
    ("spam.example", True),  # a bare host is accepted too
    ("Sub.Spam.Example:443", True),
    ("", False),
])
def test_is_blocked__key_ids_under_a_blocked_domain(key_id, refused):
    assert is_blocked(key_id, BLOCKED) is refused
