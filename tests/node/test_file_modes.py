"""Secrets on disk (SECURITY.md rule 15): the data directory is 0700, config, database and media 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from civic.cli import main
from node.config import Settings, write_settings
from node.files import private_umask
from node.services.media import save_image
from tests.node.test_cli import civic

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001a5f645400000000049454e44ae426082"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The usual 022 umask, under which files are world-readable unless the node takes care."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _init(data_dir: Path) -> None:
    code = main(["init", "--data-dir", str(data_dir), "--base-url", "http://127.0.0.1:18091",
                 "--development"])
    assert code == 0


def test_init__data_dir_config_and_database_are_private(tmp_path, open_umask, capsys):
    """`civic init` (SQLite) makes the data directory 0700 and civic.toml and civic.db 0600."""
    data_dir = tmp_path / "node"
    _init(data_dir)
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "civic.toml") == 0o600
    database = data_dir / "civic.db"
    assert mode(database) == 0o600
    for extra in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        if extra.exists():
            assert mode(extra) == 0o600, extra
    assert "secret_key" in (data_dir / "civic.toml").read_text()
    assert "private" not in capsys.readouterr().out  # nothing needed correcting
    assert os.umask(0o022) == 0o022  # the command gave the process its umask back


def test_migrate__corrects_a_world_readable_node_with_one_message_per_path(tmp_path, open_umask,
                                                                            capsys):
    """On a node made before (0755 directories, 0644 files), `civic migrate` removes the group and
    other permissions and says so once per corrected path; a second run has nothing to say."""
    data_dir = tmp_path / "node"
    _init(data_dir)
    media = data_dir / "media"
    media.mkdir()
    logo = media / ("a" * 64 + ".png")
    logo.write_bytes(PNG)
    loose = [data_dir, media, logo, data_dir / "civic.toml", data_dir / "civic.db"]
    for path in loose:
        path.chmod(0o755 if path.is_dir() else 0o644)
    capsys.readouterr()
    assert main(["migrate", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    for path in loose:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
        assert sum(f"Made {path} private" in line for line in out.splitlines()) == 1, out
    assert "The database schema is up to date." in out
    assert main(["migrate", "--data-dir", str(data_dir)]) == 0
    assert "private" not in capsys.readouterr().out


def test_migrate__as_a_separate_process_prints_the_corrections(tmp_path):
    """The installed `civic` command does the same (a 0644 civic.toml is made 0600, with a message)."""
    data_dir = tmp_path / "node"
    assert civic("init", "--base-url", "http://127.0.0.1:18092", "--development",
                 data_dir=data_dir).returncode == 0
    assert mode(data_dir / "civic.toml") == 0o600
    (data_dir / "civic.toml").chmod(0o644)
    result = civic("migrate", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert f"Made {data_dir / 'civic.toml'} private: mode 644 -> 600." in result.stdout
    assert mode(data_dir / "civic.toml") == 0o600


def test_write_settings__never_world_readable(tmp_path, open_umask):
    """civic.toml is created 0600 whatever the umask, and rewriting it keeps it so."""
    settings = Settings(data_dir=tmp_path / "d", secret_key="s3cret", development=True)
    path = write_settings(settings)
    assert mode(path) == 0o600 and mode(tmp_path / "d") == 0o700
    path.chmod(0o644)
    write_settings(settings)
    assert mode(path) == 0o600 and 's3cret' in path.read_text()


def test_media__uploads_are_private_under_the_command_umask(tmp_path, open_umask):
    """What `civic serve` stores under media/ (it runs under the 077 umask) is 0700/0600."""
    with private_umask():
        name = save_image(tmp_path, PNG)
    stored = tmp_path / "media" / name.rsplit("/", 1)[1]
    assert mode(tmp_path / "media") == 0o700 and mode(stored) == 0o600
