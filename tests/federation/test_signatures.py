"""HTTP signatures: signing, and every rejection FEDERATION.md "HTTP signatures" and SECURITY.md rule 3 ask for."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from federation import signatures
from federation.signatures import (
    SignatureError,
    SignatureMismatch,
    Signer,
    key_id_of,
    sign_headers,
    sign_headers_rfc9421,
    verify_request,
)
from node.keys import generate_rsa_keypair

INBOX = "https://civic.example/inbox"
ALICE = "https://remote.example/users/alice"
ALICE_KEY = f"{ALICE}#main-key"
MALLORY = "https://evil.example/users/mallory"
MALLORY_KEY = f"{MALLORY}#main-key"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BODY = json.dumps({"id": f"{ALICE}/activities/1", "type": "Like", "actor": ALICE}).encode()


@pytest.fixture(scope="module")
def keys():
    """Two real RSA key pairs: alice's and mallory's."""
    return {"alice": generate_rsa_keypair(), "mallory": generate_rsa_keypair()}


@pytest.fixture
def get_key(keys):
    known = {ALICE_KEY: (ALICE, keys["alice"][0]), MALLORY_KEY: (MALLORY, keys["mallory"][0])}

    async def lookup(key_id: str):
        return known.get(key_id)

    return lookup


def rsa_sign(private_pem: str, message: str) -> str:
    key = load_pem_private_key(private_pem.encode(), None)
    return base64.b64encode(
        key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()


def digest(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def cavage(
    method,
    url,
    headers,
    fields,
    private_pem,
    key_id=ALICE_KEY,
    extra="",
    algorithm="rsa-sha256",
    created=None,
):
    """A draft-cavage Signature header built by hand (not by the code under test)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = []
    for name in fields:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        elif name == "(created)":
            lines.append(f"(created): {created}")
        else:
            lines.append(f"{name}: {headers[name]}")
    signature = rsa_sign(private_pem, "\n".join(lines))
    params = f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(fields)}"'
    if created is not None:
        params += f",created={created}"
    return f'{params},signature="{signature}"{extra}'


def post_headers(body=BODY, now=NOW):
    return {
        "host": "civic.example",
        "date": now.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "digest": digest(body),
        "content-type": "application/activity+json",
    }


async def test_sign_headers__post_verifies_and_names_signer(keys, get_key):
    """A POST signed by sign_headers carries Digest/Date/Host and verifies as alice (case-insensitively)."""
    headers = sign_headers("POST", INBOX, BODY, ALICE_KEY, keys["alice"][1], now=NOW)
    assert headers["Digest"] == digest(BODY)
    assert headers["Host"] == "civic.example"
    assert 'headers="(request-target) host date digest content-type"' in headers["Signature"]
    assert 'algorithm="rsa-sha256"' in headers["Signature"]
    signer = await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)
    assert signer == Signer(key_id=ALICE_KEY, owner=ALICE)
    upper = {name.upper(): value for name, value in headers.items()}
    assert (await verify_request("POST", INBOX, upper, BODY, get_key, now=NOW)).owner == ALICE


async def test_sign_headers__get_signs_host_and_asks_for_activitystreams(keys, get_key):
    """A signed GET signs (request-target) host date, sends the AS2 Accept, and verifies."""
    url = "https://civic.example:8443/notes/1?page=2"
    headers = sign_headers("GET", url, None, ALICE_KEY, keys["alice"][1], now=NOW)
    assert 'headers="(request-target) host date"' in headers["Signature"]
    assert headers["Host"] == "civic.example:8443"
    assert headers["Accept"].startswith("application/activity+json")
    assert "Digest" not in headers
    assert (await verify_request("GET", url, headers, b"", get_key, now=NOW)).owner == ALICE


async def test_sign_headers__caches_the_parsed_private_key(keys):
    """500 signatures with one key parse its PEM once (parsing costs ~30 ms each time; the speed
    itself is measured by bench/bench_fanout.py, not by a timed test)."""
    signatures._private_key.cache_clear()
    for number in range(500):
        sign_headers("POST", INBOX, b"%d" % number, ALICE_KEY, keys["alice"][1])
    info = signatures._private_key.cache_info()
    assert (info.misses, info.hits) == (1, 499)


async def test_verify_request__forged_signature_with_other_key_is_refused(keys, get_key):
    """Mallory signs with her key but names alice's keyId → signature invalid."""
    headers = post_headers()
    fields = ["(request-target)", "host", "date", "digest"]
    headers["signature"] = cavage("POST", INBOX, headers, fields, keys["mallory"][1], ALICE_KEY)
    with pytest.raises(SignatureMismatch) as info:
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)
    assert info.value.reason.startswith("signature invalid")


async def test_verify_request__returns_the_real_key_owner(keys, get_key):
    """A body claiming actor alice, signed with mallory's key, verifies as mallory (the inbox compares)."""
    headers = sign_headers("POST", INBOX, BODY, MALLORY_KEY, keys["mallory"][1], now=NOW)
    signer = await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)
    assert signer.owner == MALLORY and json.loads(BODY)["actor"] == ALICE


async def test_verify_request__tampered_body_is_refused(keys, get_key):
    """The body changed after signing → the Digest no longer matches."""
    headers = sign_headers("POST", INBOX, BODY, ALICE_KEY, keys["alice"][1], now=NOW)
    with pytest.raises(SignatureError, match="does not match its Digest"):
        await verify_request(
            "POST", INBOX, headers, BODY.replace(b"Like", b"Block"), get_key, now=NOW
        )


async def test_verify_request__tampered_digest_header_is_refused(keys, get_key):
    """Body and Digest both replaced: the signature over the old Digest fails."""
    headers = sign_headers("POST", INBOX, BODY, ALICE_KEY, keys["alice"][1], now=NOW)
    forged = BODY.replace(b"Like", b"Block")
    headers["Digest"] = digest(forged)
    with pytest.raises(SignatureMismatch):
        await verify_request("POST", INBOX, headers, forged, get_key, now=NOW)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (["(request-target)", "host", "date"], "must sign the digest"),
        (["(request-target)", "host", "digest"], "neither date nor (created)"),
        (["host", "date", "digest"], "(request-target) is not signed"),
        (["(request-target)", "host", "date", "digest", "date"], "listed twice"),
    ],
)
async def test_verify_request__post_missing_required_fields_is_refused(
    keys, get_key, fields, reason
):
    """POST must sign (request-target), date and digest (Mastodon signature_verification.rb)."""
    headers = post_headers()
    headers["signature"] = cavage("POST", INBOX, headers, fields, keys["alice"][1])
    with pytest.raises(SignatureError) as info:
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)
    assert reason in info.value.reason


async def test_verify_request__get_without_host_is_refused(keys, get_key):
    """A GET must sign the host header."""
    headers = {"host": "civic.example", "date": post_headers()["date"]}
    headers["signature"] = cavage(
        "GET", INBOX, headers, ["(request-target)", "date"], keys["alice"][1]
    )
    with pytest.raises(SignatureError, match="must sign the host"):
        await verify_request("GET", INBOX, headers, b"", get_key, now=NOW)


@pytest.mark.parametrize(
    ("signed_at", "verified_at", "reason"),
    [
        (NOW - timedelta(hours=13), NOW, "more than 12 hours old"),
        (NOW + timedelta(hours=2), NOW, "more than an hour in the future"),
    ],
)
async def test_verify_request__date_outside_window_is_refused(
    keys, get_key, signed_at, verified_at, reason
):
    """Date 13 h old or 2 h ahead → refused (12 h max age, 1 h skew)."""
    headers = sign_headers("POST", INBOX, BODY, ALICE_KEY, keys["alice"][1], now=signed_at)
    with pytest.raises(SignatureError) as info:
        await verify_request("POST", INBOX, headers, BODY, get_key, now=verified_at)
    assert reason in info.value.reason


async def test_verify_request__date_inside_window_is_accepted(keys, get_key):
    """11 h old and 50 min ahead are still inside the window."""
    for signed_at in (NOW - timedelta(hours=11), NOW + timedelta(minutes=50)):
        headers = sign_headers("POST", INBOX, BODY, ALICE_KEY, keys["alice"][1], now=signed_at)
        assert (await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)).owner == ALICE


@pytest.mark.parametrize(
    "extra",
    [f',keyId="{MALLORY_KEY}"', ',headers="date"', ',signature="AAAA"', ',algorithm="hs2019"'],
)
async def test_verify_request__duplicated_signature_parameter_is_refused(keys, get_key, extra):
    """A parameter given twice (even a second Signature header) → refused, never last-one-wins."""
    headers = post_headers()
    fields = ["(request-target)", "host", "date", "digest"]
    headers["signature"] = cavage("POST", INBOX, headers, fields, keys["alice"][1], extra=extra)
    with pytest.raises(SignatureError, match="duplicated"):
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)


async def test_verify_request__two_signature_headers_are_refused(keys, get_key):
    """Two Signature headers are combined as HTTP does, and so read as duplicated parameters."""
    headers = post_headers()
    fields = ["(request-target)", "host", "date", "digest"]
    good = cavage("POST", INBOX, headers, fields, keys["alice"][1])
    bad = cavage("POST", INBOX, headers, fields, keys["mallory"][1], MALLORY_KEY)
    pairs = [*headers.items(), ("Signature", good), ("signature", bad)]

    class Multi(dict):
        def items(self):
            return pairs

    with pytest.raises(SignatureError, match="duplicated"):
        await verify_request("POST", INBOX, Multi(), BODY, get_key, now=NOW)


async def test_verify_request__unsigned_unknown_and_unsupported_are_refused(keys, get_key):
    """No signature, an unknown key and an unsupported algorithm each give their own reason."""
    reasons = set()
    headers = post_headers()
    with pytest.raises(SignatureError) as info:
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)
    reasons.add(info.value.reason)
    fields = ["(request-target)", "host", "date", "digest"]
    headers["signature"] = cavage(
        "POST", INBOX, headers, fields, keys["alice"][1], "https://x.example/k"
    )
    with pytest.raises(SignatureError) as info:
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)
    assert "unknown key" in info.value.reason
    reasons.add(info.value.reason)
    headers["signature"] = cavage(
        "POST", INBOX, headers, fields, keys["alice"][1], algorithm="hmac-sha256"
    )
    with pytest.raises(SignatureError) as info:
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)
    reasons.add(info.value.reason)
    assert len(reasons) == 3


async def test_verify_request__hs2019_with_created_is_accepted(keys, get_key):
    """hs2019 signing (created) instead of date verifies; a stale (created) does not."""
    headers = post_headers()
    headers.pop("date")
    fields = ["(request-target)", "(created)", "host", "digest"]
    created = int(NOW.timestamp())
    headers["signature"] = cavage(
        "POST", INBOX, headers, fields, keys["alice"][1], algorithm="hs2019", created=created
    )
    assert (await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)).owner == ALICE
    with pytest.raises(SignatureError, match="12 hours old"):
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW + timedelta(hours=13))


async def test_verify_request__request_target_without_query_is_accepted(keys, get_key):
    """Older Mastodon and bovine leave the query out of (request-target); both forms verify."""
    url = "https://civic.example/actors/org/outbox?page=1"
    headers = {"host": "civic.example", "date": post_headers()["date"]}
    fields = ["(request-target)", "host", "date"]
    headers["signature"] = cavage("GET", url.split("?")[0], headers, fields, keys["alice"][1])
    assert (await verify_request("GET", url, headers, b"", get_key, now=NOW)).owner == ALICE
    other = "https://civic.example/actors/org/inbox?page=1"
    with pytest.raises(SignatureMismatch):
        await verify_request("GET", other, headers, b"", get_key, now=NOW)


def rfc9421(method, url, body, private_pem, key_id=ALICE_KEY, created=None, components=None):
    """An RFC 9421 request built by hand from the RFC's signature base rules (§2.5)."""
    created = int(NOW.timestamp()) if created is None else created
    headers = {"host": urlsplit(url).netloc}
    values = {"@method": method.upper(), "@target-uri": url, "@authority": urlsplit(url).netloc}
    if body is not None:
        headers["content-digest"] = (
            "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        )
        headers["content-type"] = "application/activity+json"
    components = components or (
        ["@method", "@target-uri", "content-digest"]
        if body is not None
        else ["@method", "@target-uri"]
    )
    params = "(" + " ".join(f'"{c}"' for c in components) + f');created={created};keyid="{key_id}"'
    lines = [f'"{c}": {values.get(c) or headers[c]}' for c in components]
    lines.append(f'"@signature-params": {params}')
    headers["signature-input"] = f"sig1={params}"
    headers["signature"] = f"sig1=:{rsa_sign(private_pem, chr(10).join(lines))}:"
    return headers


async def test_verify_request__rfc9421_post_verifies(keys, get_key):
    """An RFC 9421 POST (@method @target-uri content-digest, created) verifies as alice."""
    headers = rfc9421("POST", INBOX, BODY, keys["alice"][1])
    assert await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW) == Signer(
        ALICE_KEY, ALICE
    )


async def test_verify_request__rfc9421_rejections(keys, get_key):
    """RFC 9421: tampered body, stale created, unsigned content-digest, other key → each refused."""
    headers = rfc9421("POST", INBOX, BODY, keys["alice"][1])
    with pytest.raises(SignatureError, match="Content-Digest"):
        await verify_request("POST", INBOX, headers, BODY + b" ", get_key, now=NOW)
    with pytest.raises(SignatureError, match="12 hours old"):
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW + timedelta(hours=13))
    unsigned = rfc9421("POST", INBOX, BODY, keys["alice"][1], components=["@method", "@target-uri"])
    with pytest.raises(SignatureError, match="content-digest"):
        await verify_request("POST", INBOX, unsigned, BODY, get_key, now=NOW)
    forged = rfc9421("POST", INBOX, BODY, keys["mallory"][1])
    with pytest.raises(SignatureMismatch):
        await verify_request("POST", INBOX, forged, BODY, get_key, now=NOW)
    elsewhere = "https://civic.example/actors/org/inbox"
    with pytest.raises(SignatureMismatch):
        await verify_request("POST", elsewhere, headers, BODY, get_key, now=NOW)


async def test_verify_request__rfc9421_duplicated_parameter_is_refused(keys, get_key):
    """A Signature-Input with `created` twice → refused."""
    headers = rfc9421("POST", INBOX, BODY, keys["alice"][1])
    headers["signature-input"] += f";created={int(NOW.timestamp())}"
    with pytest.raises(SignatureError, match="duplicated"):
        await verify_request("POST", INBOX, headers, BODY, get_key, now=NOW)


async def test_sign_headers_rfc9421__round_trip(keys, get_key):
    """Our RFC 9421 signer produces GET and POST requests the verifier accepts."""
    post = sign_headers_rfc9421("POST", INBOX, BODY, ALICE_KEY, keys["alice"][1], now=NOW)
    assert (await verify_request("POST", INBOX, post, BODY, get_key, now=NOW)).owner == ALICE
    url = "https://civic.example/notes/1?x=1"
    get = sign_headers_rfc9421("GET", url, None, ALICE_KEY, keys["alice"][1], now=NOW)
    assert (await verify_request("GET", url, get, b"", get_key, now=NOW)).owner == ALICE


def test_key_id_of__reads_both_formats_without_verifying(keys):
    """key_id_of finds the cavage keyId and the RFC 9421 keyid; None when unsigned or malformed."""
    cav = sign_headers("POST", INBOX, BODY, ALICE_KEY, keys["alice"][1], now=NOW)
    assert key_id_of(cav) == ALICE_KEY
    assert (
        key_id_of(rfc9421("POST", INBOX, BODY, keys["alice"][1], key_id=MALLORY_KEY)) == MALLORY_KEY
    )
    assert key_id_of({"Date": "x"}) is None
    assert key_id_of({"Signature": "garbage"}) is None
