"""Paged OrderedCollections (outbox, followers, following)."""

from __future__ import annotations

from activities.vocabulary import CONTEXT

PAGE_SIZE = 20


def ordered_collection(collection_id: str, total: int, *, paged: bool = True) -> dict:
    doc = {"@context": CONTEXT, "id": collection_id, "type": "OrderedCollection", "totalItems": total}
    if paged:
        doc["first"] = f"{collection_id}?page=1"
        if total:
            last = max(1, -(-total // PAGE_SIZE))
            doc["last"] = f"{collection_id}?page={last}"
    return doc


def ordered_collection_page(collection_id: str, page: int, items: list, total: int) -> dict:
    doc = {
        "@context": CONTEXT,
        "id": f"{collection_id}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "totalItems": total,
        "orderedItems": items,
    }
    if page * PAGE_SIZE < total:
        doc["next"] = f"{collection_id}?page={page + 1}"
    if page > 1:
        doc["prev"] = f"{collection_id}?page={page - 1}"
    return doc
