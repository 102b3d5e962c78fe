"""Session fixtures for the independent ActivityPub peers; tests skip when a peer is not installed."""

from __future__ import annotations

import shutil

import pytest

from tests.interop.peers import FedifyPeer, HerdPeer, PastureVerifier, installed, peers_dir


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "interop: runs against an independent ActivityPub implementation on loopback"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/interop carries the `interop` marker (`-m "not interop"` skips them)."""
    for item in items:
        if "tests/interop/" in item.nodeid or item.nodeid.startswith("interop/"):
            item.add_marker(pytest.mark.interop)


def require_peer(name: str) -> None:
    """Skips (with the reason printed) when deploy/peers/install.sh has not installed `name`."""
    base = peers_dir()
    if installed(name, base):
        return
    reason = (
        f"interop peer '{name}' is not installed in {base} "
        f"(run: bash deploy/peers/install.sh {base})"
    )
    print(f"\nSKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fedify_peer(tmp_path_factory: pytest.TempPathFactory):
    """Fedify 1.5 peer with Person alice, on 127.0.0.3 (port 8002 unless taken)."""
    require_peer("fedify")
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: the Fedify peer needs Node 20")
    with FedifyPeer(tmp_path_factory.mktemp("fedify")) as peer:
        yield peer


@pytest.fixture(scope="session")
def herd_peer(tmp_path_factory: pytest.TempPathFactory):
    """bovine-herd with user alice, auto-accepting Follows, on 127.0.0.2 (port 8001 unless taken)."""
    require_peer("herd")
    with HerdPeer(tmp_path_factory.mktemp("herd")) as peer:
        yield peer


@pytest.fixture(scope="session")
def pasture(tmp_path_factory: pytest.TempPathFactory):
    """fediverse-pasture verify_actor on 127.0.0.7 (port 2909 unless taken)."""
    require_peer("pasture")
    with PastureVerifier(tmp_path_factory.mktemp("pasture")) as verifier:
        yield verifier
