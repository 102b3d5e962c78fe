#!/usr/bin/env bash
# Installs the independent ActivityPub peers used by tests/interop into one directory.
#
#   bash deploy/peers/install.sh [DIR]        (DIR defaults to .peers)
#
# Creates DIR/herd (bovine-herd venv), DIR/pasture (fediverse-pasture venv) and DIR/fedify
# (npm project with @fedify/fedify 1.5.9). Each peer gets a stamp file recording what was
# installed; a re-run with an unchanged recipe does nothing. Every peer is attempted; the
# script exits non-zero if any of them could not be installed.
#
# Environment: PEERS_PYTHON (default python3.11, else python3), PEERS_ONLY="herd fedify" to
# install a subset, PEERS_FORCE=1 to reinstall even when the stamp matches.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-.peers}"
mkdir -p "$DEST" || { echo "peers: cannot create $DEST" >&2; exit 1; }
DEST="$(cd "$DEST" && pwd)"
ONLY="${PEERS_ONLY:-herd pasture fedify}"
FORCE="${PEERS_FORCE:-0}"

if [ -n "${PEERS_PYTHON:-}" ]; then
  PY="$PEERS_PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then
  PY=python3.11
else
  PY=python3
fi

# Known-good pins, found by installing on this kind of machine. bovine-herd 0.5.19 needs
# tortoise-orm 0.21 (its SQLite backend breaks with aiosqlite >= 0.21) and quart < 0.20.
HERD_REQUIREMENTS="bovine-herd==0.5.19 bovine-tool==0.5.6 hypercorn==0.18.0"
HERD_CONSTRAINTS="
aiosqlite==0.20.0
tortoise-orm==0.21.7
pypika-tortoise==0.2.2
quart==0.19.9
werkzeug==3.1.9
flask==3.1.3
bovine==0.5.19
bovine-process==0.5.19
bovine-store==0.5.19
cryptography==45.0.7
pyld==2.0.4
aiohttp==3.14.5
pydantic==2.14.3
"
PASTURE_REQUIREMENTS="fediverse-pasture==0.2.25 fediverse-pasture-inputs==0.3.0"
PASTURE_CONSTRAINTS="
bovine==0.5.19
cryptography==45.0.7
pyld==2.0.4
aiohttp==3.14.5
"

FAILED=()

log() { echo "peers: $*"; }

fail() {
  local peer="$1"; shift
  echo "peers: ERROR installing $peer: $*" >&2
  FAILED+=("$peer")
}

wanted() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# stamp_ok DIR RECIPE -> 0 when DIR/.installed holds exactly RECIPE's hash.
recipe_hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

stamp_ok() {
  [ "$FORCE" != "1" ] && [ -f "$1/.installed" ] && [ "$(cat "$1/.installed")" = "$(recipe_hash "$2")" ]
}

write_stamp() { recipe_hash "$2" >"$1/.installed"; }

install_venv() {
  local name="$1" requirements="$2" constraints="$3" check="$4"
  local dir="$DEST/$name"
  local recipe="$PY|$($PY -c 'import sys; print(sys.version)')|$requirements|$constraints"
  if stamp_ok "$dir" "$recipe"; then
    log "$name: up to date ($dir)"
    return 0
  fi
  log "$name: installing into $dir"
  rm -rf "$dir"
  if ! "$PY" -m venv "$dir" >"$DEST/$name-install.log" 2>&1; then
    fail "$name" "'$PY -m venv' failed; see $DEST/$name-install.log"
    return 1
  fi
  printf '%s\n' "$constraints" >"$dir/constraints.txt"
  # shellcheck disable=SC2086
  if ! "$dir/bin/python" -m pip install --disable-pip-version-check --no-input \
    -c "$dir/constraints.txt" $requirements >>"$DEST/$name-install.log" 2>&1; then
    tail -n 20 "$DEST/$name-install.log" >&2
    fail "$name" "pip install failed; full log in $DEST/$name-install.log"
    return 1
  fi
  if ! "$dir/bin/python" -c "$check" >>"$DEST/$name-install.log" 2>&1; then
    tail -n 20 "$DEST/$name-install.log" >&2
    fail "$name" "installed but the import check failed; see $DEST/$name-install.log"
    return 1
  fi
  write_stamp "$dir" "$recipe"
  log "$name: installed"
}

install_fedify() {
  local dir="$DEST/fedify"
  local src="$HERE/fedify"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    fail fedify "node and npm are required (Node 20 or newer)"
    return 1
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    fail fedify "Node $(node --version) is too old: Fedify 1.5 needs Node 20 or newer"
    return 1
  fi
  # The lock file must never name a registry host: it is committed.
  if grep -q '"resolved"' "$src/package-lock.json"; then
    fail fedify "$src/package-lock.json records download addresses; regenerate it with --omit-lockfile-registry-resolved"
    return 1
  fi
  local recipe
  recipe="$(node --version)|$(cat "$src/package.json" "$src/package-lock.json")"
  if stamp_ok "$dir" "$recipe" && [ -d "$dir/node_modules/@fedify/fedify" ]; then
    cp "$src/peer.mjs" "$dir/peer.mjs"
    log "fedify: up to date ($dir)"
    return 0
  fi
  log "fedify: installing into $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$src/package.json" "$src/package-lock.json" "$src/peer.mjs" "$dir/"
  if ! (cd "$dir" && npm ci --omit-lockfile-registry-resolved --no-audit --no-fund \
    --loglevel=error) >"$DEST/fedify-install.log" 2>&1; then
    tail -n 20 "$DEST/fedify-install.log" >&2
    fail fedify "npm ci failed; full log in $DEST/fedify-install.log"
    return 1
  fi
  local version
  version="$(cd "$dir" && node -p 'JSON.parse(require("fs").readFileSync("node_modules/@fedify/fedify/package.json", "utf8")).version' 2>/dev/null)"
  if [ "$version" != "1.5.9" ]; then
    fail fedify "expected @fedify/fedify 1.5.9, found '${version:-nothing}'"
    return 1
  fi
  if ! (cd "$dir" && node --input-type=module -e 'await import("@fedify/fedify")') \
    >>"$DEST/fedify-install.log" 2>&1; then
    tail -n 20 "$DEST/fedify-install.log" >&2
    fail fedify "@fedify/fedify does not load under $(node --version)"
    return 1
  fi
  write_stamp "$dir" "$recipe"
  log "fedify: installed (@fedify/fedify $version)"
}

if wanted herd; then
  install_venv herd "$HERD_REQUIREMENTS" "$HERD_CONSTRAINTS" \
    "import bovine_herd, bovine_tool, bovine_process, hypercorn, bovine"
fi
if wanted pasture; then
  install_venv pasture "$PASTURE_REQUIREMENTS" "$PASTURE_CONSTRAINTS" \
    "import fediverse_pasture.verify_actor, fediverse_pasture_inputs, uvicorn"
fi
if wanted fedify; then
  install_fedify
fi

if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "peers: FAILED: ${FAILED[*]} (the interop tests for these peers will be skipped)" >&2
  exit 1
fi
log "all requested peers ready in $DEST"
