"""bovine-herd app for interop tests: offline JSON-LD contexts and Follows accepted automatically."""

# Runs inside the herd venv (.peers/herd), never in Civic Node's own venv:
#   BOVINE_DB_URL=sqlite://... hypercorn herd_app:app --bind 127.0.0.2:8001
import json
import logging
import os
from pathlib import Path

import bovine.jsonld
from bovine_herd import BovineHerd
from bovine_herd.add_to_queue import add_to_queue
from bovine_process import handle_outbox_item, process_inbox_item, process_outbox_item
from bovine_process.types import ProcessingItem
from bovine_process.utils import ProcessorList
from pyld import jsonld
from quart import Quart

logger = logging.getLogger("herd_app")

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
DEFAULT_CONTEXTS = Path(__file__).resolve().parents[2] / "activities/data/jsonld-contexts.json"


def load_contexts(path: Path) -> dict[str, dict]:
    """Context documents keyed by URL, also reachable without a trailing slash."""
    documents = json.loads(path.read_text(encoding="utf-8"))
    return documents | {url.rstrip("/"): doc for url, doc in documents.items()}


CONTEXTS = load_contexts(Path(os.environ.get("HERD_JSONLD_CONTEXTS", DEFAULT_CONTEXTS)))


def remote_document(url: str, document: dict) -> dict:
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": document,
    }


def offline_document_loader(url: str, options: dict | None = None, **kwargs) -> dict:
    """Serves @context documents from disk; bovine's loader would go to the network (none here)."""
    # bovine's own "about:bovine" and ActivityStreams contexts keep unknown terms ("@vocab": "_:").
    if url in ("about:bovine", AS_CONTEXT) or url.startswith("http://joinmastodon.org/ns"):
        return bovine.jsonld.wrapper(url, options or {})
    document = CONTEXTS.get(url) or CONTEXTS.get(url.rstrip("/"))
    if document is None:
        logger.warning("No offline copy of JSON-LD context %s; using an empty one", url)
        document = {"@context": []}
    return remote_document(url, document)


jsonld.set_document_loader(offline_document_loader)


def id_of(value) -> str | None:
    if isinstance(value, dict):
        return value.get("id")
    if isinstance(value, list):
        return id_of(value[0]) if value else None
    return value


async def accept_follow_requests(item: ProcessingItem, actor) -> ProcessingItem:
    """Answers a Follow of this actor with an Accept posted through the actor's own outbox."""
    data = item.data
    if data.get("type") != "Follow" or id_of(data.get("object")) != actor.actor_id:
        return item
    follower = id_of(data.get("actor"))
    follow = {key: data[key] for key in ("id", "type", "actor", "object") if key in data}
    accept = {
        "@context": AS_CONTEXT,
        "type": "Accept",
        "actor": actor.actor_id,
        "object": follow,
        "to": [follower],
    }
    outgoing = await handle_outbox_item(ProcessingItem(actor.actor_id, accept), actor)
    if outgoing is None:
        logger.error("bovine refused the Accept for %s", data.get("id"))
        return item
    # The outbox chain records the follower (its Accept handler) and delivers the Accept.
    await process_outbox_item(outgoing, actor)
    logger.info("Accepted %s from %s", data.get("id"), follower)
    return item


def build_app() -> Quart:
    app = Quart(__name__)
    inbox_chain = ProcessorList(process_inbox_item, accept_follow_requests, add_to_queue)

    async def start_background_task_inbox(item, actor):
        app.add_background_task(inbox_chain.__call__, item, actor)

    BovineHerd(
        app,
        start_background_task_inbox=start_background_task_inbox,
        db_url=os.environ.get("BOVINE_DB_URL", "sqlite://bovine.sqlite3"),
    )
    return app


logging.basicConfig(level=os.environ.get("HERD_LOG_LEVEL", "INFO"))
app = build_app()
