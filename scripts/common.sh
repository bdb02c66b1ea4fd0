# Shared by scripts/demo and scripts/test: install what debian/control's
# Build-Depends names (the one list of what the project needs), then build.
# shellcheck shell=bash

EP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ep_install_deps () {
  # Quick path: everything is there already.
  if command -v dpkg-checkbuilddeps >/dev/null 2>&1 &&
     (cd "$EP_ROOT" && dpkg-checkbuilddeps >/dev/null 2>&1); then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "Missing build dependencies; run as root to install them (apt-get build-dep ./)" >&2
    return 1
  fi
  echo "== installing build dependencies from debian/control"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends dpkg-dev >/dev/null
  (cd "$EP_ROOT" && apt-get build-dep -y -q --no-install-recommends ./ >/dev/null)
}

# ep_build DIR [meson options...]
ep_build () {
  local dir=$1; shift
  if [ ! -f "$EP_ROOT/$dir/build.ninja" ]; then
    meson setup "$EP_ROOT/$dir" "$EP_ROOT" "$@" >/dev/null
  fi
  ninja -C "$EP_ROOT/$dir" >/dev/null
}

# ep_copy_tree DEST: the tree (what git tracks plus untracked files it does
# not ignore; without git, everything but build directories) copied into
# DEST, for dpkg-buildpackage, which writes next to the source directory.
ep_copy_tree () {
  local dest=$1
  mkdir -p "$dest" || return 1
  if git -C "$EP_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$EP_ROOT" && git ls-files -z --cached --others --exclude-standard |
       while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
       tar --null -T - -cf -) | tar -x -C "$dest"
  else
    tar -C "$EP_ROOT" --exclude='./build*' --exclude='./obj-*' \
      --exclude='__pycache__' --exclude='./debian/enapter-provisiond' \
      --exclude='./debian/.debhelper' -cf - . | tar -x -C "$dest"
  fi
}
