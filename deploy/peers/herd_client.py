"""Acts as a bovine-herd user through its C2S outbox: one JSON request on stdin, JSON on stdout."""

# Runs inside the herd venv (.peers/herd): bovine's pins conflict with Civic Node's venv.
#   echo '{"domain": "http://127.0.0.2:8001", "secret": "z3u2...", "command": "actor"}' |
#       .peers/herd/bin/python deploy/peers/herd_client.py
import asyncio
import json
import sys
from datetime import UTC, datetime

from bovine import BovineClient

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


async def collection_items(client: BovineClient, url: str, limit: int) -> list:
    """Items of a (possibly paged) collection, newest first as bovine serves them."""
    collection = await client.get(url)
    items = list(collection.get("orderedItems") or collection.get("items") or [])
    page_url = collection.get("first")
    while page_url and len(items) < limit:
        page = await client.get(page_url if isinstance(page_url, str) else page_url["id"])
        items.extend(page.get("orderedItems") or page.get("items") or [])
        page_url = page.get("next")
    return items[:limit]


async def resolve(client: BovineClient, item):
    """Full object for a collection entry (bovine lists ids)."""
    if isinstance(item, dict):
        return item
    try:
        return await client.get(item)
    except Exception as error:
        # Not every server serves every activity at its id (Mastodon's Accepts have fragment ids,
        # Civic Node answers 404 for non-public activities): then read the copy herd stored on
        # receipt through alice's proxyUrl (herd's own store first, embedded object resolved).
        try:
            return await client.proxy(item)
        except Exception:  # an entry that is gone still shows as its id
            return {"id": item, "error": repr(error)}


async def send(client: BovineClient, activity: dict) -> dict:
    response = await client.send_to_outbox({"@context": AS_CONTEXT, **activity})
    if response.status >= 400:
        raise RuntimeError(f"outbox answered {response.status}: {await response.text()}")
    location = response.headers.get("location")
    stored = await client.get(location) if location else activity
    return {"id": location, "activity": stored}


async def run(client: BovineClient, command: str, args: dict):
    me = client.actor_id
    info = client.information
    if command == "actor":
        return info
    if command == "follow":
        target = args["target"]
        return await send(client, {"type": "Follow", "actor": me, "object": target, "to": [target]})
    if command == "unfollow":
        follow = args["follow"]
        target = args["target"]
        return await send(client, {"type": "Undo", "actor": me, "object": follow, "to": [target]})
    if command == "post":
        to = as_list(args.get("to")) or [PUBLIC]
        cc = as_list(args.get("cc")) if args.get("cc") is not None else [info["followers"]]
        note = {
            "type": "Note",
            "attributedTo": me,
            "content": args["content"],
            "published": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "to": to,
            "cc": cc,
        }
        if args.get("inReplyTo"):
            note["inReplyTo"] = args["inReplyTo"]
        return await send(
            client, {"type": "Create", "actor": me, "object": note, "to": to, "cc": cc}
        )
    if command == "like":
        to = as_list(args.get("to"))
        return await send(client, {"type": "Like", "actor": me, "object": args["object"], "to": to})
    if command == "undo":
        to = as_list(args.get("to"))
        return await send(client, {"type": "Undo", "actor": me, "object": args["object"], "to": to})
    if command == "send":
        return await send(client, args["activity"])
    if command in ("inbox", "outbox", "followers", "following"):
        limit = int(args.get("limit", 200))
        items = await collection_items(client, info[command], limit)
        if command in ("inbox", "outbox"):
            items = [await resolve(client, item) for item in items]
        return {"items": items}
    if command == "get":
        return await client.get(args["url"])
    if command == "lookup":
        # The server resolves the id through alice's proxyUrl endpoint: an acct: handle goes
        # through WebFinger there (bovine_herd.server.endpoints.proxy_url_response).
        return await client.proxy(args["target"])
    raise ValueError(f"unknown command {command!r}")


async def main() -> int:
    request = json.load(sys.stdin)
    try:
        async with BovineClient(domain=request["domain"], secret=request["secret"]) as client:
            result = await run(client, request["command"], request.get("args") or {})
        json.dump({"ok": True, "result": result}, sys.stdout)
        return 0
    except Exception as error:
        json.dump({"ok": False, "error": repr(error)}, sys.stdout)
        return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
