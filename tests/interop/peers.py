"""Starts, drives and stops the independent ActivityPub peers (Fedify, bovine-herd, pasture) on loopback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.interop.processes import (
    DEPLOY,
    LoopbackPeer,
    PeerError,
    Predicate,
    first_match,
    http_json,
    installed,
    peers_dir,
    wait_for,
)

__all__ = [
    "FedifyPeer",
    "HerdPeer",
    "PastureVerifier",
    "PeerError",
    "VerifyResult",
    "http_json",
    "installed",
    "peers_dir",
    "wait_for",
]


class FedifyPeer(LoopbackPeer):
    """The Fedify 1.5 peer (deploy/peers/fedify/peer.mjs): Person `alice` plus a JSON control API."""

    name, default_host, default_port = "fedify", "127.0.0.3", 8002

    @property
    def actor_url(self) -> str:
        return f"{self.base_url}/users/alice"

    @property
    def handle(self) -> str:
        return f"acct:alice@{self.host}:{self.port}"

    def prepare(self) -> tuple[list[str], str, None]:
        # A fresh copy of the script beside a link to the installed packages: edits to peer.mjs
        # take effect without re-running install.sh, and nothing is written into .peers/.
        shutil.copy(DEPLOY / "fedify" / "peer.mjs", self.workdir / "peer.mjs")
        modules = self.workdir / "node_modules"
        if not modules.exists():
            modules.symlink_to(self.home / "node_modules", target_is_directory=True)
        argv = ["node", "peer.mjs", "--host", self.host, "--port", str(self.port)]
        return argv, f"{self.base_url}/_control/health", None

    def control(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> Any:
        status, payload = http_json(method, f"{self.base_url}/_control/{path}", body, timeout)
        if status >= 300:
            error = payload.get("error") if isinstance(payload, dict) else payload
            raise PeerError(f"fedify {method} /_control/{path} -> {status}: {error}")
        return payload

    def follow(self, target: str) -> dict:
        """Sends Follow(target) signed by alice; returns {"activity", "recipients"}."""
        return self.control("POST", "follow", {"target": target})

    def unfollow(self, target: str) -> dict:
        return self.control("POST", "unfollow", {"target": target})

    def post(
        self,
        content: str,
        in_reply_to: str | None = None,
        to: list[str] | None = None,
        cc: list[str] | None = None,
    ) -> dict:
        """Create(Note) to followers and actors in to/cc: {"note", "activity", "recipients", "skipped"}."""
        body: dict[str, Any] = {"content": content}
        for key, value in (("inReplyTo", in_reply_to), ("to", to), ("cc", cc)):
            if value is not None:
                body[key] = value
        return self.control("POST", "post", body)

    def like(self, object_id: str, to: str | None = None) -> dict:
        """Like(object_id), sent to `to` (default: the object's attributedTo)."""
        return self.control("POST", "like", {"object": object_id, **({"to": to} if to else {})})

    def undo_like(self, object_id: str) -> dict:
        return self.control("POST", "undo-like", {"object": object_id})

    def announce(
        self, object_id: str, to: list[str] | None = None, cc: list[str] | None = None
    ) -> dict:
        body = {"object": object_id, **({"to": to} if to else {}), **({"cc": cc} if cc else {})}
        return self.control("POST", "announce", body)

    def delete(self, note_id: str) -> dict:
        """Delete(Tombstone) of a note alice posted, to its followers and addressees."""
        return self.control("POST", "delete", {"object": note_id})

    def send(self, activity: dict, to: list[str]) -> dict:
        """Signs any activity (JSON-LD) as alice and delivers it to the actors in `to`."""
        return self.control("POST", "send", {"activity": activity, "to": to})

    def lookup(self, url: str) -> dict:
        """Fetches `url` with a signed GET through Fedify's strict parser."""
        return self.control("POST", "lookup", {"url": url})["object"]

    def inbox(self) -> list[dict]:
        """Every activity that passed Fedify's checks: {type, id, actor, object, raw, activity}."""
        return self.control("GET", "inbox")["items"]

    def followers(self) -> list[dict]:
        return self.control("GET", "followers")["items"]

    def following(self) -> list[dict]:
        return self.control("GET", "following")["items"]

    def errors(self) -> list[dict]:
        return self.control("GET", "errors")["items"]

    def reset(self) -> None:
        """Forgets what the inbox and error log hold (followers and following stay)."""
        self.control("POST", "reset")

    def forget_followers(self) -> int:
        """Forgets alice's followers, as her server would once it sent Delete{alice}."""
        return self.control("POST", "forget-followers")["forgotten"]

    def wait_for_inbox(self, predicate: Predicate, timeout: float = 15) -> dict:
        """The first inbox entry matching `predicate`, polling for at most `timeout` s."""
        return wait_for(
            lambda: first_match(self.inbox(), predicate),
            timeout,
            "a matching activity in Fedify's inbox",
        )

    def wait_for_accepted(self, target: str, timeout: float = 15) -> dict:
        """The following entry for `target` once its Accept arrived."""
        return wait_for(
            lambda: first_match(self.following(), lambda f: f["id"] == target and f["accepted"]),
            timeout,
            f"an Accept from {target}",
        )


class HerdPeer(LoopbackPeer):
    """bovine-herd with user `alice` (Follows auto-accepted by deploy/peers/herd_app.py)."""

    name, default_host, default_port = "herd", "127.0.0.2", 8001

    def __init__(self, workdir: Path, host: str = "", port: int = 0, peers: Path | None = None):
        super().__init__(workdir, host, port, peers)
        self.python = str(self.home / "bin" / "python")
        self.env = {
            **os.environ,
            "BOVINE_DB_URL": f"sqlite://{workdir / 'herd.sqlite3'}",
            "PYTHONPATH": str(DEPLOY),
            "PYTHONUNBUFFERED": "1",
            # bovine resolves acct: handles over https only, unless told it may fall back to http
            # (bovine.clients.lookup_uri_with_webfinger): every peer here speaks plain http.
            "BUTCHER_ALLOW_HTTP": "1",
        }
        self.secret = ""
        self.actor_id = ""
        self._follows: dict[str, str] = {}

    def _run(self, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.python, *argv],
            input=stdin,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def _tool(self, *args: str) -> str:
        result = self._run(["-m", *args])
        if result.returncode != 0:
            raise PeerError(f"herd {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    @property
    def handle(self) -> str:
        return f"acct:alice@{self.host}:{self.port}"

    @property
    def webfinger_url(self) -> str:
        return f"{self.base_url}/.well-known/webfinger?{urllib.parse.urlencode({'resource': self.handle})}"

    def prepare(self) -> tuple[list[str], str, dict[str, str]]:
        self._tool("bovine_tool.create")
        out = self._tool("bovine_tool.register", "alice", "--domain", self.base_url)
        bovine_name = re.search(r"Bovine name: (\S+)", out)
        if not bovine_name:
            raise PeerError(f"bovine_tool.register printed no name: {out!r}")
        out = self._tool("bovine_tool.manage", bovine_name.group(1), "--new_did_key")
        secret = re.search(r"Your new secret: (\S+)", out)
        if not secret:
            raise PeerError(f"bovine_tool.manage printed no secret: {out!r}")
        self.secret = secret.group(1)
        argv = [
            self.python,
            "-m",
            "hypercorn",
            "herd_app:app",
            "--bind",
            f"{self.host}:{self.port}",
        ]
        return argv, self.webfinger_url, self.env

    def ready(self) -> None:
        _, jrd = http_json("GET", self.webfinger_url)
        self.actor_id = next(link["href"] for link in jrd["links"] if link.get("rel") == "self")

    def client(self, command: str, args: dict | None = None) -> Any:
        """Runs one deploy/peers/herd_client.py command as alice (C2S, Moo-Auth-1)."""
        request = {"domain": self.base_url, "secret": self.secret, "command": command}
        result = self._run([str(DEPLOY / "herd_client.py")], json.dumps({**request, "args": args}))
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            raise PeerError(f"herd client {command}: {result.stdout}\n{result.stderr}") from None
        if not answer.get("ok"):
            raise PeerError(
                f"herd client {command}: {answer.get('error')}\n{result.stderr[-2000:]}"
            )
        return answer["result"]

    def actor(self) -> dict:
        """alice's actor document as its owner sees it."""
        return self.client("actor")

    def lookup(self, target: str) -> dict:
        """What herd's server fetches for `target` (a URL or an `acct:` handle, which herd
        resolves through WebFinger) via alice's proxyUrl endpoint, as bovine clients look up."""
        return self.client("lookup", {"target": target})

    def follow(self, actor_url: str) -> str:
        """Sends Follow(actor_url) through alice's outbox; returns the Follow's id."""
        follow_id = self.client("follow", {"target": actor_url})["id"]
        self._follows[actor_url] = follow_id
        return follow_id

    def unfollow(self, actor_url: str) -> dict:
        follow_id = self._follows.pop(actor_url)
        return self.client("unfollow", {"target": actor_url, "follow": follow_id})

    def post(
        self,
        content: str,
        in_reply_to: str | None = None,
        to: list[str] | None = None,
        cc: list[str] | None = None,
    ) -> dict:
        """Create(Note) through the outbox; returns {"id": Create id, "note": Note id, "activity"}."""
        args = {"content": content, "inReplyTo": in_reply_to, "to": to, "cc": cc}
        created = self.client("post", args)
        note = created["activity"].get("object")
        created["note"] = note["id"] if isinstance(note, dict) else note
        return created

    def like(self, object_id: str, to: str | list[str]) -> dict:
        return self.client("like", {"object": object_id, "to": to})

    def undo(self, activity_id: str, to: str | list[str]) -> dict:
        return self.client("undo", {"object": activity_id, "to": to})

    def inbox(self) -> list[dict]:
        """What alice received, newest first, each item fetched through bovine's C2S API."""
        return self.client("inbox")["items"]

    def followers(self) -> list[str]:
        return self.client("followers")["items"]

    def following(self) -> list[str]:
        return self.client("following")["items"]

    def wait_for_inbox(self, predicate: Predicate, timeout: float = 20) -> dict:
        """The first (newest) inbox item matching `predicate`, polling for at most `timeout` s."""
        return wait_for(
            lambda: first_match(self.inbox(), predicate),
            timeout,
            "a matching activity in herd's inbox",
            interval=0.2,
        )

    def wait_for_follower(self, actor_url: str, timeout: float = 20) -> list[str]:
        """alice's followers once `actor_url` is among them."""
        return wait_for(
            lambda: (found := self.followers()) and actor_url in found and found,
            timeout,
            f"{actor_url} among herd alice's followers",
            interval=0.2,
        )


# fediverse-pasture's six test actors: whether they sign their requests, whether their own
# document needs a signed GET (so the key fetch must be signed), whether they answer WebFinger.
PASTURE_ACTORS = {
    "alice": {"signs": False, "key_needs_signed_get": False, "webfinger": True},
    "bob": {"signs": True, "key_needs_signed_get": False, "webfinger": True},
    "claire": {"signs": True, "key_needs_signed_get": True, "webfinger": True},
    "dean": {"signs": False, "key_needs_signed_get": False, "webfinger": False},
    "emily": {"signs": True, "key_needs_signed_get": False, "webfinger": False},
    "frank": {"signs": True, "key_needs_signed_get": True, "webfinger": False},
}


@dataclass(frozen=True)
class ActorCheck:
    """What one pasture test actor managed against the actor under test."""

    name: str
    signs: bool
    key_needs_signed_get: bool
    webfinger: bool
    get_actor: bool
    post_inbox: bool


@dataclass
class VerifyResult:
    """fediverse-pasture verify_actor's verdict on one actor URL."""

    actor_url: str
    actors: dict[str, ActorCheck]
    webfinger: bool
    messages: list = field(default_factory=list)

    def fetched(self) -> set[str]:
        """Test actors that fetched the actor document."""
        return {name for name, check in self.actors.items() if check.get_actor}

    def posted(self) -> set[str]:
        """Test actors whose POST to the inbox was accepted (status below 400)."""
        return {name for name, check in self.actors.items() if check.post_inbox}

    def steps_of(self, name: str) -> list:
        """The verifier's messages while test actor `name` ran, e.g. "Got 401 for unsigned POST"."""
        steps, current = [], None
        for step in self.messages:
            if isinstance(step, str) and step.startswith("Running verification for "):
                current = step.removeprefix("Running verification for ").strip()
                continue
            if current == name:
                steps.append(step)
        return steps


class PastureVerifier(LoopbackPeer):
    """fediverse-pasture's verify_actor app on loopback (deploy/peers/pasture_app.py)."""

    name, default_host, default_port = "pasture", "127.0.0.7", 2909

    def prepare(self) -> tuple[list[str], str, dict[str, str]]:
        argv = [str(self.home / "bin" / "python"), str(DEPLOY / "pasture_app.py")]
        argv += ["--host", self.host, "--port", str(self.port)]
        return argv, f"{self.base_url}/bob", {"PYTHONUNBUFFERED": "1"}

    def verify(self, actor_url: str, timeout: float = 180) -> VerifyResult:
        """Runs the six test actors against `actor_url`: fetch it, then POST to its inbox."""
        query = urllib.parse.urlencode({"actor_uri": actor_url})
        status, payload = http_json("GET", f"{self.base_url}/?{query}", timeout=timeout)
        if status != 200 or not isinstance(payload, dict) or "result" not in payload:
            raise PeerError(f"pasture verify_actor -> {status}: {str(payload)[:2000]}")
        result = payload["result"]
        actors = {
            name: ActorCheck(
                name=name,
                **traits,
                get_actor=bool(result[name]["get_actor"]),
                post_inbox=bool(result[name]["post_inbox"]),
            )
            for name, traits in PASTURE_ACTORS.items()
            if name in result
        }
        messages = json.loads(payload.get("messages") or "{}").get("steps", [])
        return VerifyResult(actor_url, actors, bool(result.get("webfinger")), messages)
