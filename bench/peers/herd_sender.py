"""bovine-herd 0.5.19 as a sender of bench/bench_fanout_peers.py (runs in the herd venv, .peers/herd).

    prepare --domain http://127.0.0.1:PORT --followers followers.json
        (cwd: a fresh directory, BOVINE_DB_URL set) creates herd's tables, registers the actor
        "bench" (bovine's own RSA 2048 key) and a client key, and inserts the followers straight
        into herd's store: each one an item of bench's followers collection, with its actor
        document cached (so herd looks its inbox up locally, as for a follower it already knows);
        prints {"secret": …} for the client.
    post --domain … --secret …
        posts one Create(Note) to bench's followers through herd's C2S outbox, as a client does.

The server itself is deploy/peers/herd_app.py under hypercorn, started by the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
NOTE = "Réunion publique mardi 18 h, salle du conseil : le budget participatif 2027. " * 4


def tool(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {result.stdout}\n{result.stderr}")
    return result.stdout


async def insert_followers(followers: list[str]) -> None:
    from bovine_store.models import BovineActorEndpoint, CollectionItem, StoredJsonObject
    from bovine_store.types import EndpointType, ObjectType, VisibilityTypes
    from bovine_tool.store import InlineBovineStore

    async with InlineBovineStore():
        endpoint = await BovineActorEndpoint.get(endpoint_type=EndpointType.FOLLOWERS)
        for start in range(0, len(followers), 1_000):
            chunk = followers[start:start + 1_000]
            await StoredJsonObject.bulk_create([
                StoredJsonObject(id=actor, owner=actor, visibility=VisibilityTypes.PUBLIC,
                                 object_type=ObjectType.REMOTE, content={
                                     "@context": AS_CONTEXT, "id": actor, "type": "Person",
                                     "preferredUsername": actor.rsplit("/", 1)[1],
                                     "inbox": f"{actor}/inbox"})
                for actor in chunk])
            await CollectionItem.bulk_create(
                [CollectionItem(part_of=endpoint.name, object_id=actor) for actor in chunk])


def prepare(domain: str, followers_file: str) -> None:
    tool("bovine_tool.create")
    out = tool("bovine_tool.register", "bench", "--domain", domain)
    name = re.search(r"Bovine name: (\S+)", out)
    if not name:
        raise SystemExit(f"bovine_tool.register printed no name: {out!r}")
    out = tool("bovine_tool.manage", name.group(1), "--new_did_key")
    secret = re.search(r"Your new secret: (\S+)", out)
    if not secret:
        raise SystemExit(f"bovine_tool.manage printed no secret: {out!r}")
    with open(followers_file, encoding="utf-8") as handle:
        asyncio.run(insert_followers(json.load(handle)))
    print(json.dumps({"secret": secret.group(1)}), flush=True)


async def post(domain: str, secret: str) -> None:
    from bovine import BovineClient

    async with BovineClient(domain=domain, secret=secret) as client:
        me, followers = client.actor_id, client.information["followers"]
        note = {"type": "Note", "attributedTo": me, "content": NOTE, "to": [PUBLIC], "cc": [followers],
                "published": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        response = await client.send_to_outbox({"@context": AS_CONTEXT, "type": "Create", "actor": me,
                                                "object": note, "to": [PUBLIC], "cc": [followers]})
        if response.status >= 400:
            raise SystemExit(f"herd's outbox answered {response.status}: {await response.text()}")
    print(json.dumps({"posted": response.headers.get("location")}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("prepare", "post"))
    parser.add_argument("--domain", required=True)
    parser.add_argument("--followers")
    parser.add_argument("--secret")
    args = parser.parse_args()
    if not args.domain.startswith("http://127."):
        raise SystemExit("loopback benchmarks only")
    os.environ.setdefault("BOVINE_DB_URL", "sqlite://herd.sqlite3")
    if args.command == "prepare":
        prepare(args.domain, args.followers)
    else:
        asyncio.run(post(args.domain, args.secret))


if __name__ == "__main__":
    main()
