"""The costly parts of making an account, made cheap for in-process test nodes: RSA keys and argon2.

Making one account costs an argon2 hash (about 170 ms with the node's parameters: 64 MiB, three
passes, four lanes) and an RSA-2048 key pair (about 40 ms of CPU); logging in costs an argon2
verification. The suite makes thousands of accounts and keys, so this was a large share of its CPU.

- RSA: ``rsa.generate_private_key`` hands out keys from a pool generated once per test run. Within a
  test every call gets a key that no other call of that test got (the pool grows when a test needs
  more), so "signed with another key", key rotation and "a key claimed by someone else" are still
  tested with distinct keys. Only later tests get the same keys again, each with its own databases
  and hosts. A module whose tests share a fixture broader than one test (keys made once for the
  module, a node kept running) counts as one test: its fixtures' keys are never handed out again
  within it (``shares_state``).
- argon2: the node's hasher (``node.services.actors._hasher``) is argon2id with the smallest
  parameters. Hashing, verifying, the dummy hash for unknown handles and counting verifications run
  the node's own code; only the cost changes. Hashes keep their parameters in the hash string, so an
  account made by a ``civic`` subprocess (real parameters) still logs in to an in-process node.

Processes the tests start (``civic serve``, ``civic demo``, the interop nodes, the quick start) keep
the real key generation and the real parameters. ``CIVIC_TEST_REAL_CRYPTO=1`` turns both stand-ins
off for a run (the suite passes either way; it is only slower).
"""

from __future__ import annotations

import os
import threading
from collections import Counter

from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import rsa

import node.services.actors as actor_service

REAL_CRYPTO_ENV = "CIVIC_TEST_REAL_CRYPTO"
# argon2id still; 1 pass over 1 MiB on one lane takes about a millisecond.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_generate = rsa.generate_private_key


def wanted() -> bool:
    return os.environ.get(REAL_CRYPTO_ENV, "") in ("", "0")


class KeyPool:
    """RSA private keys by (exponent, size), handed out in order and restarted at each test module."""

    def __init__(self) -> None:
        self._keys: dict[tuple[int, int], list] = {}
        self._next: Counter[tuple[int, int]] = Counter()
        self.generated = 0
        # Key pairs are made on the node's worker threads too (node.services.actors._CPU).
        self._lock = threading.Lock()

    def generate_private_key(self, public_exponent: int, key_size: int, backend=None):
        kind = (public_exponent, key_size)
        with self._lock:
            keys = self._keys.setdefault(kind, [])
            index = self._next[kind]
            self._next[kind] += 1
            if index == len(keys):
                keys.append(_generate(public_exponent=public_exponent, key_size=key_size))
                self.generated += 1
            return keys[index]

    def restart(self) -> None:
        """From here on, the keys handed out before may be handed out again."""
        with self._lock:
            self._next.clear()


POOL = KeyPool()


def shares_state(item, own: str) -> bool:
    """Whether ``item`` uses a fixture of a scope broader than the test, other than the plugins'
    and those of the conftest ``own`` (the root conftest: none of them makes keys)."""
    info = getattr(item, "_fixtureinfo", None)  # test functions have one; other items no fixtures
    for definitions in (info.name2fixturedefs.values() if info else ()):
        fixture = definitions[-1]
        if fixture.scope != "function" and fixture.baseid not in ("", own):
            return True
    return False


def install(monkeypatch) -> None:
    """Puts both stand-ins in place for the rest of the run (``monkeypatch`` of session scope)."""
    monkeypatch.setattr(rsa, "generate_private_key", POOL.generate_private_key)
    monkeypatch.setattr(actor_service, "_hasher", CHEAP_HASHER)
    # The dummy hash for unknown handles is made with the hasher in place (same cost as a real one).
    monkeypatch.setattr(actor_service, "_dummy_hash", None)
