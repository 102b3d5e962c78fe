"""JSON-LD through pyld with bundled contexts: the document loader never touches the network."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from pyld import jsonld

from activities.errors import InvalidDocument
from activities.vocabulary import AS_NS, CIVIC_NS, CONTEXT

_BUNDLE = Path(__file__).with_name("data") / "jsonld-contexts.json"
# Contexts whose terms the compact reader in ``activities.normalize`` understands: documents
# using only these skip pyld on the hot path (pyld is about 100 times slower than reading JSON).
KNOWN_CONTEXTS = frozenset({
    AS_NS, "https://www.w3.org/ns/activitystreams#", "https://w3id.org/security/v1",
    "https://w3id.org/security/data-integrity/v1", "https://w3id.org/security/multikey/v1",
    "https://www.w3.org/ns/did/v1", "https://w3id.org/identity/v1", "http://schema.org/",
    "https://gotosocial.org/ns", "https://purl.archive.org/socialweb/webfinger",
})


@cache
def _contexts() -> dict[str, dict]:
    return json.loads(_BUNDLE.read_text(encoding="utf-8"))


def _normalise_url(url: str) -> str:
    return url.split("#", 1)[0] if url.endswith("#") else url


def offline_loader(url: str, options=None) -> dict:
    """pyld document loader: bundled contexts only; anything else is an InvalidDocument."""
    bundle = _contexts()
    for candidate in (url, _normalise_url(url), url.rstrip("/"), url.rstrip("/") + "/",
                      url.replace("http://", "https://", 1)):
        if candidate in bundle:
            return {"contextUrl": None, "documentUrl": url, "document": bundle[candidate]}
    raise jsonld.JsonLdError(f"context {url} is not bundled", "loading document failed",
                             code="loading remote context failed")


jsonld.set_document_loader(offline_loader)


def context_urls(doc: dict) -> list[str]:
    ctx = doc.get("@context")
    items = ctx if isinstance(ctx, list) else [ctx]
    return [c for c in items if isinstance(c, str)]


def _aliases_as2_term(term: str, definition) -> bool:
    """An inline term that renames an AS2 term (``"texte": "as:content"``) changes what the
    compact reader would see; Mastodon's ``"sensitive": "as:sensitive"`` does not."""
    iri = definition.get("@id") if isinstance(definition, dict) else definition
    if not isinstance(iri, str):
        return False
    for prefix in ("as:", f"{AS_NS}#"):
        if iri.startswith(prefix):
            return iri[len(prefix):] != term
    return False


def needs_jsonld(doc: dict) -> bool:
    """True when the document uses a context outside the usual AS2 set, or an inline context
    that renames AS2 terms: such documents are compacted with pyld before they are read."""
    if any(_normalise_url(url) not in KNOWN_CONTEXTS and url not in KNOWN_CONTEXTS
           for url in context_urls(doc)):
        return True
    return _inline_aliases(doc)


def _inline_aliases(doc: dict) -> bool:
    ctx = doc.get("@context")
    inline = [c for c in (ctx if isinstance(ctx, list) else [ctx]) if isinstance(c, dict)]
    return any(_aliases_as2_term(term, value) for c in inline for term, value in c.items())


def _without_unbundled(doc: dict) -> dict:
    """The document with the context URLs we do not bundle left out of its ``@context``."""
    ctx = doc.get("@context")
    items = ctx if isinstance(ctx, list) else [ctx]
    kept = [c for c in items if not isinstance(c, str) or _is_bundled(c)]
    return {**doc, "@context": kept}


def _is_bundled(url: str) -> bool:
    try:
        offline_loader(url)
    except jsonld.JsonLdError:
        return False
    return True


def _compact(doc: dict) -> dict:
    return jsonld.compact(doc, {"@context": CONTEXT}, options={"documentLoader": offline_loader})


def compact(doc: dict) -> dict:
    """Re-compact a document into our context (for documents with unusual contexts).

    A context we cannot load (Pleroma's ``litepub-0.1.jsonld``, FEP documents, a broken URL) is
    never fetched and never a reason to drop the document: it is read as compact AS2, its terms
    taken as the usual ones, as Mastodon reads every document (it runs no JSON-LD at all). Inline
    definitions that rename AS2 terms still apply: the document is then compacted without the
    unloadable URLs (SECURITY.md rule 21)."""
    try:
        return _compact(doc)
    except (jsonld.JsonLdError, RecursionError, TypeError, ValueError):
        pass
    if _inline_aliases(doc):
        try:
            return _compact(_without_unbundled(doc))
        except (jsonld.JsonLdError, RecursionError, TypeError, ValueError):
            pass
    return doc


def readable(doc: dict) -> dict:
    """The document as the compact reader of ``activities`` expects it: as it is on the hot path
    (usual contexts), else compacted by pyld, else as it is (see ``compact``)."""
    return compact(doc) if needs_jsonld(doc) else doc


def expand(doc: dict) -> list:
    try:
        return jsonld.expand(doc, options={"documentLoader": offline_loader})
    except jsonld.JsonLdError as exc:
        raise InvalidDocument(f"JSON-LD processing failed: {str(exc).splitlines()[0]}") from None


__all__ = ["CIVIC_NS", "compact", "expand", "needs_jsonld", "offline_loader", "readable"]
