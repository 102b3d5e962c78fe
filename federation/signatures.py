"""HTTP signatures: sign outgoing requests, verify incoming ones (draft-cavage-12 and RFC 9421)."""

# The only module that imports bovine (its module paths move between releases). bovine provides
# the signing-string builder and the key objects; the policy is ours because bovine's
# SignatureChecker allows only a 5-minute window with no injectable clock, drops the query from
# (request-target), lets duplicated parameters pass, and resolves neither `@target-uri` nor
# `created` for RFC 9421 (Mastodon 4.5 signs both). bovine 0.5.19's RFC 9421 header parser also
# fails against the installed http-sf 1.5, so Signature-Input is parsed here.

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urlsplit

from bovine.crypto.helper import content_digest_sha256
from bovine.crypto.http_signature import HttpSignature
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret

AS_CONTENT_TYPE = "application/activity+json"
AS_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
# Mastodon `signature_verification.rb`: EXPIRATION_WINDOW_LIMIT and CLOCK_SKEW_MARGIN.
MAX_AGE = timedelta(hours=12)
MAX_SKEW = timedelta(hours=1)

KeyLookup = Callable[[str], Awaitable[tuple[str, str] | None]]

_CAVAGE_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([0-9.]+))\s*(?:,|$)')
_SF_KEY = r"[a-z*][a-z0-9_.*-]*"
_SF_BARE = r'"(?:[^"\\]|\\.)*"|:[A-Za-z0-9+/=]*:|\?[01]|-?[0-9]+(?:\.[0-9]+)?|[A-Za-z*][\w:/!#$%&\'*+.^`|~-]*'
_SF_MEMBER = re.compile(rf"[ \t]*({_SF_KEY})=")
_SF_ITEM = re.compile(_SF_BARE)
_SF_PARAM = re.compile(rf";[ ]*({_SF_KEY})(?:=({_SF_BARE}))?")
_SF_INTEGER = re.compile(r"-?[0-9]{1,15}")
_SF_INNER_LIST = re.compile(r'\(((?:"[^"\\]*"(?: +"[^"\\]*")*)?)\)')
_SF_STRING = re.compile(r'"([^"\\]*)"')
_BODY_LESS = frozenset({"GET", "HEAD"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_9421_ALGORITHMS = frozenset({"rsa-v1_5-sha256", "ed25519"})


class SignatureError(Exception):
    """The request's signature is missing or does not hold; `reason` becomes the 401 JSON reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SignatureMismatch(SignatureError):
    """Well-formed, but the key does not verify it: the one case where re-fetching the key (it
    may have rotated) can help. Its reason starts with "signature invalid"."""


@dataclass(frozen=True)
class Signer:
    """Who signed a request. The caller must still check that `owner` is the activity's actor
    (SECURITY.md rule 2): verification only proves that the key's owner sent these bytes."""

    key_id: str
    owner: str


# --- signing -----------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _private_key(private_key_pem: str):
    # PEM parsing costs about as much as one RSA signature: parse each of our keys once.
    return CryptographicSecret.from_pem("", private_key_pem).private_key


@lru_cache(maxsize=4096)
def _identifier(public_key_pem: str, owner: str) -> CryptographicIdentifier:
    return CryptographicIdentifier.from_pem(public_key_pem, owner)


def _host_header(parts) -> str:
    host = (parts.hostname or "").encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _request_target(method: str, parts, with_query: bool = True) -> str:
    path = parts.path or "/"
    if with_query and parts.query:
        path = f"{path}?{parts.query}"
    return f"{method.lower()} {path}"


def _http_date(now: datetime | None) -> str:
    return format_datetime((now or datetime.now(UTC)).astimezone(UTC), usegmt=True)


def sign_headers(
    method: str,
    url: str,
    body: bytes | None,
    key_id: str,
    private_key_pem: str,
    content_type: str = AS_CONTENT_TYPE,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers that sign this request with draft-cavage-12 rsa-sha256, as Mastodon sends it
    (`app/lib/signed_request.rb`): POST signs `(request-target) host date digest content-type`,
    GET signs `(request-target) host date`."""
    parts = urlsplit(url)
    headers = {"Host": _host_header(parts), "Date": _http_date(now)}
    signature = (
        HttpSignature()
        .with_field("(request-target)", _request_target(method, parts))
        .with_field("host", headers["Host"])
        .with_field("date", headers["Date"])
    )
    if method.upper() in _BODY_LESS:
        headers["Accept"] = AS_ACCEPT
    else:
        headers["Digest"] = content_digest_sha256(body or b"", prefix="SHA-256")
        headers["Content-Type"] = content_type
        signature.with_field("digest", headers["Digest"]).with_field("content-type", content_type)
    secret = CryptographicSecret(key_id, _private_key(private_key_pem))
    headers["Signature"] = signature.sign_for_http_draft(secret)
    return headers


def sign_headers_rfc9421(
    method: str,
    url: str,
    body: bytes | None,
    key_id: str,
    private_key_pem: str,
    content_type: str = AS_CONTENT_TYPE,
    now: datetime | None = None,
) -> dict[str, str]:
    """RFC 9421 headers covering `@method @target-uri` (+ `content-digest` with a body), with the
    `created` and `keyid` parameters, as Mastodon 4.5 verifies them. Cavage stays our default."""
    created = int((now or datetime.now(UTC)).timestamp())
    headers = {"Host": _host_header(urlsplit(url)), "Date": _http_date(now)}
    signature = HttpSignature().with_field("@method", method.upper()).with_field("@target-uri", url)
    components = ['"@method"', '"@target-uri"']
    if method.upper() in _BODY_LESS:
        headers["Accept"] = AS_ACCEPT
    else:
        digest = base64.b64encode(hashlib.sha256(body or b"").digest()).decode()
        headers["Content-Digest"] = f"sha-256=:{digest}:"
        headers["Content-Type"] = content_type
        signature.with_field("content-digest", headers["Content-Digest"])
        components.append('"content-digest"')
    params = f'({" ".join(components)});created={created};keyid="{key_id}"'
    signature.with_field("@signature-params", params)
    secret = CryptographicSecret(key_id, _private_key(private_key_pem))
    headers["Signature-Input"] = f"sig1={params}"
    headers["Signature"] = f"sig1=:{secret.sign(signature.build_message_quoted())}:"
    return headers


# --- parsing -----------------------------------------------------------------------------------


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # bovine (and our checks) want lower-case names; a header sent twice is combined as HTTP
    # does, so two Signature headers become one with duplicated parameters and are refused.
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        value = value.strip()
        lowered[key] = f"{lowered[key]}, {value}" if key in lowered else value
    return lowered


def _parse_cavage(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while position < len(header):
        match = _CAVAGE_PARAM.match(header, position)
        if match is None or match.end() == position:
            raise SignatureError("the Signature header is malformed")
        name = match.group(1)
        if name in params:
            # Mastodon `signature_verification.rb`: duplicated parameters are refused.
            raise SignatureError(f"the signature parameter {name!r} is duplicated")
        params[name] = match.group(2) if match.group(2) is not None else match.group(3)
        position = match.end()
    return params


def key_id_of(headers: Mapping[str, str]) -> str | None:
    """The keyId a request claims (RFC 9421 `keyid` or cavage `keyId`), unverified: for the
    domain-block check that runs before any key is fetched."""
    lowered = _lower_headers(headers)
    if "signature-input" in lowered:
        match = re.search(r';\s*keyid="([^"]*)"', lowered["signature-input"])
        return match.group(1) if match else None
    if "signature" in lowered:
        try:
            return _parse_cavage(lowered["signature"]).get("keyId") or None
        except SignatureError:
            return None
    return None


def _sf_value(token: str):
    if token[0] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    if token[0] == ":":
        return base64.b64decode(token[1:-1], validate=True)
    if token[0] == "?":
        return token == "?1"
    if _SF_INTEGER.fullmatch(token):
        return int(token)
    return token


def _sf_dictionary(text: str, what: str) -> dict[str, tuple[object, dict, str]]:
    """Parse an RFC 8941 dictionary as RFC 9421 uses it: {label: (value, params, raw value)}.
    Duplicated labels or parameters are refused (RFC 8941 would let the last one win)."""
    members: dict[str, tuple[object, dict, str]] = {}
    malformed = SignatureError(f"the {what} header is malformed")
    position = 0
    while True:
        match = _SF_MEMBER.match(text, position)
        if match is None:
            raise malformed
        label, position = match.group(1), match.end()
        start = position
        try:
            inner = _SF_INNER_LIST.match(text, position)
            if inner is not None:  # RFC 9421 covers components as an inner list of strings
                value, position = _SF_STRING.findall(inner.group(1)), inner.end()
            elif (item := _SF_ITEM.match(text, position)) is not None:
                value, position = _sf_value(item.group()), item.end()
            else:
                raise malformed  # includes components with parameters, which we do not support
            params: dict[str, object] = {}
            while (param := _SF_PARAM.match(text, position)) is not None:
                if param.group(1) in params:
                    raise SignatureError(
                        f"the signature parameter {param.group(1)!r} is duplicated"
                    )
                params[param.group(1)] = _sf_value(param.group(2)) if param.group(2) else True
                position = param.end()
        except ValueError:  # bad base64
            raise malformed from None
        if label in members:
            raise SignatureError(f"the signature label {label!r} is duplicated")
        members[label] = (value, params, text[start:position])
        rest = text[position:].lstrip(" \t")
        if not rest:
            return members
        if rest[0] != ",":
            raise malformed
        position = len(text) - len(rest) + 1


# --- policy ------------------------------------------------------------------------------------


def _check_time(signed_at: datetime, now: datetime, what: str) -> None:
    if signed_at > now + MAX_SKEW:
        raise SignatureError(f"the {what} is more than an hour in the future")
    if signed_at < now - MAX_AGE:
        raise SignatureError(f"the {what} is more than 12 hours old")


def _check_expires(expires: str | int | None, now: datetime) -> None:
    if expires not in (None, "") and now > _unix_time(expires, "expires parameter") + MAX_SKEW:
        raise SignatureError("the signature has expired")


def _unix_time(value: str | int | None, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise SignatureError(f"the {what} is missing or unreadable") from None


def _check_digest(header: str | None, body: bytes) -> None:
    """`Digest: SHA-256=<base64>` (RFC 3230; other algorithms may be listed beside it)."""
    digests = {}
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        digests[name.strip().lower()] = value.strip()
    if "sha-256" not in digests:
        raise SignatureError("the Digest header has no SHA-256 value")
    expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if not hmac.compare_digest(digests["sha-256"], expected):
        raise SignatureError("the body does not match its Digest")


def _check_content_digest(header: str | None, body: bytes) -> None:
    """`Content-Digest: sha-256=:<base64>:` (RFC 9530); every listed known algorithm must match."""
    known = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
    checked = False
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        name, value = name.strip().lower(), value.strip()
        if name not in known:
            continue
        if not (len(value) >= 2 and value[0] == value[-1] == ":"):
            raise SignatureError("the Content-Digest header is malformed")
        expected = base64.b64encode(known[name](body).digest()).decode()
        if not hmac.compare_digest(value[1:-1], expected):
            raise SignatureError("the body does not match its Content-Digest")
        checked = True
    if not checked:
        raise SignatureError("the Content-Digest header has no SHA-256 or SHA-512 value")


def _header_value(headers: dict[str, str], name: str) -> str:
    if name not in headers:
        raise SignatureError(f"the signed header {name!r} is missing")
    return headers[name]


def _verified(identifier: CryptographicIdentifier, message: str, signature: str | bytes) -> bool:
    try:
        return identifier.verify(message, signature) is not None
    except (ValueError, TypeError):  # bad base64, wrong key type
        return False


async def _lookup(get_key: KeyLookup, key_id: str) -> CryptographicIdentifier:
    found = await get_key(key_id)
    if found is None:
        raise SignatureError(f"unknown key {key_id}")
    owner, pem = found
    try:
        return _identifier(pem, owner)
    except (ValueError, TypeError):
        raise SignatureError(f"the key {key_id} is not a usable public key") from None


async def _verify_cavage(method, url, headers, body, get_key, now) -> Signer:
    params = _parse_cavage(headers["signature"])
    key_id, signature = params.get("keyId"), params.get("signature")
    if not key_id or not signature:
        raise SignatureError("the signature has no keyId or no signature value")
    if params.get("algorithm", "hs2019").lower() not in ("rsa-sha256", "hs2019"):
        raise SignatureError(f"unsupported signature algorithm {params['algorithm']!r}")
    fields = params.get("headers", "date").lower().split()
    if len(set(fields)) != len(fields):
        raise SignatureError("a header is listed twice in the signature")
    if "(request-target)" not in fields:
        raise SignatureError("(request-target) is not signed")
    if "date" not in fields and "(created)" not in fields:
        raise SignatureError("neither date nor (created) is signed")
    if method.upper() in _BODY_LESS and "host" not in fields:
        raise SignatureError("a GET must sign the host header")
    if method.upper() not in _BODY_LESS and "digest" not in fields:
        raise SignatureError("a POST must sign the digest header")
    if "date" in fields:
        try:
            date = parsedate_to_datetime(_header_value(headers, "date"))
        except (TypeError, ValueError):
            raise SignatureError("the Date header is unreadable") from None
        _check_time(date if date.tzinfo else date.replace(tzinfo=UTC), now, "Date header")
    if "(created)" in fields:
        _check_time(_unix_time(params.get("created"), "created parameter"), now, "created time")
    _check_expires(params.get("expires"), now)
    if "digest" in fields:
        _check_digest(_header_value(headers, "digest"), body)

    parts = urlsplit(url)
    values = {}
    for name in fields:
        if name == "(created)":
            values[name] = params["created"]
        elif name == "(expires)":
            values[name] = params.get("expires", "")
        elif name != "(request-target)":
            values[name] = _header_value(headers, name)
    identifier = await _lookup(get_key, key_id)
    # Mastodon `signature_verification.rb` tries the target with the query, then without
    # (older Mastodon and bovine leave the query out of (request-target)).
    targets = [_request_target(method, parts)]
    if parts.query:
        targets.append(_request_target(method, parts, with_query=False))
    for target in targets:
        message = HttpSignature()
        for name in fields:
            message.with_field(name, target if name == "(request-target)" else values[name])
        if _verified(identifier, message.build_message(), signature):
            return Signer(key_id=key_id, owner=identifier.controller)
    raise SignatureMismatch(f"signature invalid: it does not verify with the key {key_id}")


def _derived(name: str, method: str, url: str) -> str:
    """RFC 9421 §2.2 derived components, from the URL as the client addressed it."""
    parts = urlsplit(url)
    match name:
        case "@method":
            return method.upper()
        case "@target-uri":
            return url
        case "@authority":
            return _host_header(parts).lower()
        case "@scheme":
            return parts.scheme.lower()
        case "@path":
            return parts.path or "/"
        case "@query":
            return f"?{parts.query}"
        case "@request-target":
            return f"{parts.path or '/'}?{parts.query}" if parts.query else parts.path or "/"
    raise SignatureError(f"unsupported signature component {name!r}")


async def _verify_rfc9421(method, url, headers, body, get_key, now) -> Signer:
    inputs = _sf_dictionary(headers["signature-input"], "Signature-Input")
    signatures = _sf_dictionary(headers["signature"], "Signature")
    if len(inputs) != 1:
        raise SignatureError("only one RFC 9421 signature per request is supported")
    label, (fields, params, signature_params) = next(iter(inputs.items()))
    signature = signatures.get(label, (None,))[0]
    if not isinstance(fields, list) or not all(isinstance(field, str) for field in fields):
        raise SignatureError("the Signature-Input header is malformed")
    if not isinstance(signature, bytes):
        raise SignatureError(f"the Signature header has no byte sequence for {label!r}")
    if len(set(fields)) != len(fields):
        raise SignatureError("a component is listed twice in the signature")
    key_id = params.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        raise SignatureError("the signature has no keyid")
    if "alg" in params and params["alg"] not in _9421_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {params['alg']!r}")
    if "@method" not in fields:
        raise SignatureError("@method is not signed")
    if not {"@target-uri", "@path", "@request-target"} & set(fields):
        raise SignatureError("the request target is not signed")
    if "created" not in params:
        raise SignatureError("the created parameter is missing")
    _check_time(_unix_time(params["created"], "created parameter"), now, "created time")
    _check_expires(params.get("expires"), now)
    if method.upper() in _BODY_LESS and not {"@target-uri", "@authority", "host"} & set(fields):
        raise SignatureError("a GET must sign the host (@authority or @target-uri)")
    if method.upper() not in _BODY_LESS and "content-digest" not in fields:
        raise SignatureError("a POST must sign the content-digest header")
    if "content-digest" in fields:
        _check_content_digest(_header_value(headers, "content-digest"), body)
    message = HttpSignature()
    for name in fields:
        value = (
            _derived(name, method, url) if name.startswith("@") else _header_value(headers, name)
        )
        message.with_field(name, value)
    message.with_field("@signature-params", signature_params)
    identifier = await _lookup(get_key, key_id)
    if not _verified(identifier, message.build_message_quoted(), signature):
        raise SignatureMismatch(f"signature invalid: it does not verify with the key {key_id}")
    return Signer(key_id=key_id, owner=identifier.controller)


async def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    get_key: KeyLookup,
    now: datetime | None = None,
) -> Signer:
    """Check a request's HTTP signature (cavage rsa-sha256/hs2019, or RFC 9421) against the key
    `get_key(key_id)` returns as (owner actor id, public key PEM); raise SignatureError saying why
    not. `url` is the full URL as received. The caller must then check that the returned owner
    is the activity's actor (SECURITY.md rule 2): that is not done here."""
    lowered = _lower_headers(headers)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if "signature-input" in lowered and "signature" in lowered:
        return await _verify_rfc9421(method, url, lowered, body or b"", get_key, now)
    if "signature" in lowered:
        return await _verify_cavage(method, url, lowered, body or b"", get_key, now)
    raise SignatureError("the request is not signed")
