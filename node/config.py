"""Settings: a TOML file in the data directory, overridden by CIVIC_* environment variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from node.errors import ConfigError
from node.private_file import write_private

CONFIG_FILE = "civic.toml"
DEFAULT_DATA_DIR = "./civic-data"

_ENV = {
    "base_url": "CIVIC_BASE_URL",
    "database_url": "CIVIC_DATABASE_URL",
    "data_dir": "CIVIC_DATA_DIR",
    "development": "CIVIC_DEVELOPMENT",
    "host": "CIVIC_HOST",
    "port": "CIVIC_PORT",
    "processes": "CIVIC_PROCESSES",
    "instance_name": "CIVIC_INSTANCE_NAME",
    "delivery_give_up_seconds": "CIVIC_DELIVERY_GIVE_UP_SECONDS",
    "delivery_per_host": "CIVIC_DELIVERY_PER_HOST",
    "allowlist_mode": "CIVIC_ALLOWLIST_MODE",
    "open_registrations": "CIVIC_OPEN_REGISTRATIONS",
    "secret_key": "CIVIC_SECRET_KEY",
    "authorized_fetch": "CIVIC_AUTHORIZED_FETCH",
    "registration_approval": "CIVIC_REGISTRATION_APPROVAL",
    "trusted_proxies": "CIVIC_TRUSTED_PROXIES",
    "registration_limit": "CIVIC_REGISTRATION_LIMIT",
    "registration_window": "CIVIC_REGISTRATION_WINDOW",
    "login_ip_limit": "CIVIC_LOGIN_IP_LIMIT",
    "login_ip_window": "CIVIC_LOGIN_IP_WINDOW",
    "login_account_limit": "CIVIC_LOGIN_ACCOUNT_LIMIT",
    "login_account_window": "CIVIC_LOGIN_ACCOUNT_WINDOW",
    "follow_lookup_limit": "CIVIC_FOLLOW_LOOKUP_LIMIT",
    "follow_lookup_window": "CIVIC_FOLLOW_LOOKUP_WINDOW",
    "inbox_host_limit": "CIVIC_INBOX_HOST_LIMIT",
    "inbox_host_window": "CIVIC_INBOX_HOST_WINDOW",
    "retention_remote_days": "CIVIC_RETENTION_REMOTE_DAYS",
    "retention_log_days": "CIVIC_RETENTION_LOG_DAYS",
    "poll_update_delay": "CIVIC_POLL_UPDATE_DELAY",
}
# Rate limits (SECURITY.md rule 17): (limit, window) pairs, both at least 1.
LIMIT_SETTINGS = ("registration", "login_ip", "login_account", "follow_lookup", "inbox_host")
MAX_PROCESSES = 64  # web processes of one `civic serve`; each holds its own database pool


@dataclass(frozen=True)
class Settings:
    """Everything a node process needs to know about its deployment."""

    base_url: str = "http://127.0.0.1:8080"
    database_url: str = ""
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    # Development allows plain http ids and loopback/private addresses in remote fetches.
    # Off by default: a production node only speaks https to public addresses.
    development: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    # Web processes of `civic serve` on that address and port (PostgreSQL only above 1: they share
    # nothing but the database; civic/processes.py).
    processes: int = 1
    instance_name: str = "Civic Node"
    delivery_give_up_seconds: int = 3 * 24 * 3600
    delivery_per_host: int = 4
    allowlist_mode: bool = False
    open_registrations: bool = True
    # Signs session cookies and CSRF tokens; ``civic init`` writes a random one.
    secret_key: str = ""
    # Require a valid HTTP signature on every AS2 GET (Mastodon's "secure mode").
    authorized_fetch: bool = False
    # New accounts wait until a node admin approves them (`civic user approve HANDLE`).
    registration_approval: bool = False
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed
    # for the client address; empty: the socket peer is the client (SECURITY.md rule 17).
    trusted_proxies: str = ""
    # Rate limits shared by every process (node.services.limits), per client address (an IPv6
    # client by its /64) unless said otherwise: at most <limit> per <window> seconds.
    registration_limit: int = 5  # accounts created
    registration_window: int = 3600
    login_ip_limit: int = 10  # failed log-ins from one address
    login_ip_window: int = 900
    # Failed log-ins into one account, from anywhere. Higher than the per-address limit, so one
    # stranger cannot lock an account; a brute force spread over many addresses still stops.
    login_account_limit: int = 50
    login_account_window: int = 3600
    follow_lookup_limit: int = 20  # remote-follow WebFinger lookups
    follow_lookup_window: int = 600
    # Inbox POSTs with a valid signature from one remote host (federation.inbox_limits); 429 with
    # Retry-After above it. Mastodon answers a busy relay the same way.
    inbox_host_limit: int = 3600
    inbox_host_window: int = 60
    # Retention, applied by `civic retention apply` (node/services/retention.py); 0 keeps forever.
    # Copies of remote posts older than this that nobody here follows or answered: deleted.
    retention_remote_days: int = 180
    # Processed inbox rows, refusals, finished deliveries and outbox events, moderation log entries.
    retention_log_days: int = 90
    # Seconds between a vote in a poll made here and the Update{Question} with its new tallies:
    # votes arriving together are pushed together (node/services/polls.py).
    poll_update_delay: int = 5

    @property
    def domain(self) -> str:
        """Host (and port, when not the default) that owns this node's ids."""
        return urlsplit(self.base_url).netloc

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'civic.db'}"

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The networks of ``trusted_proxies``."""
        networks = []
        for item in self.trusted_proxies.replace(" ", ",").split(","):
            if item:
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ConfigError(f"trusted_proxies: {item!r} is not an address or network") from None
        return tuple(networks)

    def validate(self) -> Settings:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"base URL {self.base_url!r} must look like https://example.org")
        if parts.scheme == "http" and not self.development:
            raise ConfigError(
                f"base URL {self.base_url!r} uses plain http; use https, or set "
                "CIVIC_DEVELOPMENT=1 for a local test node"
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(f"base URL {self.base_url!r} must not have a path")
        for name in LIMIT_SETTINGS:
            for part in ("limit", "window"):
                if getattr(self, f"{name}_{part}") < 1:
                    raise ConfigError(f"{name}_{part} must be at least 1")
        if not 1 <= self.processes <= MAX_PROCESSES:
            raise ConfigError(f"processes must be between 1 and {MAX_PROCESSES}")
        if self.poll_update_delay < 0:
            raise ConfigError("poll_update_delay must be 0 or more seconds")
        for name in ("retention_remote_days", "retention_log_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 (keep forever) or more")
        self.proxy_networks  # noqa: B018 — raises ConfigError when one is not an address
        url = self.effective_database_url
        if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
            raise ConfigError(
                f"database URL {url!r}: use sqlite+aiosqlite:///path or postgresql+asyncpg://…"
            )
        return dataclasses.replace(self, base_url=self.base_url.rstrip("/"))


def _coerce(name: str, raw: object) -> object:
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{name}: {raw!r} is not a yes/no value")
    if kind == "int":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
    if kind == "Path":
        return Path(str(raw))
    return str(raw)


def load_settings(data_dir: str | Path | None = None, env: dict | None = None, **overrides) -> Settings:
    """Read ``civic.toml`` from the data directory, then apply CIVIC_* variables, then overrides."""
    env = os.environ if env is None else env
    directory = Path(data_dir or env.get("CIVIC_DATA_DIR") or DEFAULT_DATA_DIR)
    values: dict[str, object] = {}
    path = directory / CONFIG_FILE
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = set(values) - set(_ENV)
    if unknown:
        raise ConfigError(f"{path}: unknown settings {', '.join(sorted(unknown))}")
    for name, var in _ENV.items():
        if var in env:
            values[name] = env[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["data_dir"] = directory
    typed = {name: _coerce(name, value) for name, value in values.items()}
    return Settings(**typed).validate()


def write_settings(settings: Settings) -> Path:
    """Write the settings that differ from the defaults to ``civic.toml`` (for ``civic init``)."""
    defaults = Settings()
    lines = []
    for f in dataclasses.fields(Settings):
        if f.name == "data_dir":
            continue
        value = getattr(settings, f.name)
        if value == getattr(defaults, f.name) and f.name != "base_url":
            continue
        if isinstance(value, bool):
            lines.append(f"{f.name} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{f.name} = {value}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{f.name} = "{escaped}"')
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = settings.data_dir / CONFIG_FILE
    text = "# Civic Node settings; CIVIC_* environment variables override them.\n" + "\n".join(lines) + "\n"
    # It holds secret_key: never readable by others, never half-written (SECURITY.md rule 15).
    write_private(path, text, suffix=".toml")
    return path
