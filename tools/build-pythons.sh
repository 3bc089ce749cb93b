#!/usr/bin/env bash
# Build CPython 3.13.5 twice from the same source with the same flags: with the GIL
# (CACHE/3.13.5/bin/python3.13) and free-threaded (CACHE/3.13.5t/bin/python3.13t), each with
# conlab's core dependencies, so that the two can be compared fairly. CACHE is
# ${XDG_CACHE_HOME:-~/.cache}/conlab/pythons.
#
# The source is the upstream tarball of Debian trixie's python3.13 source package, fetched with
# apt through a private sources list and state folder (the system's apt configuration is left
# alone). A build is complete when its prefix holds conlab-build.txt whose first line matches
# the version and flags below; with both complete the script does nothing. Each build is
# installed into a staging folder and renamed into place, so an interrupted build leaves no
# interpreter behind; a lock keeps two callers from building at once.
#
#   bash tools/build-pythons.sh          (make pythons)
set -euo pipefail

version=3.13.5
orig=python3.13_$version.orig.tar.xz
orig_sha256=93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640
archive="http://deb.debian.org/debian trixie main"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# The same for both builds; the free-threaded one adds --disable-gil. No PGO, no LTO.
flags=(--with-ensurepip=install)
jobs=2
build_deps=(gcc make pkg-config xz-utils libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev
  libsqlite3-dev libreadline-dev libncurses-dev uuid-dev libgdbm-dev libgdbm-compat-dev)
# What a build must be able to import, or the missing headers went unnoticed.
modules=ssl,ctypes,zlib,bz2,lzma,sqlite3,readline,curses,_uuid,dbm.gnu,dbm.ndbm,decimal
# conlab's core dependencies, at the versions uv.lock holds.
core_deps=(cloudpickle psutil)

root=${XDG_CACHE_HOME:-$HOME/.cache}/conlab/pythons
logs=$root/logs
repo=$(cd "$(dirname "$0")/.." && pwd)

die() {
  echo "conlab: $*" >&2
  exit 1
}

# The first line of a build's stamp: what makes two builds the same.
stamp_key() {
  echo "CPython $version ($orig sha256 $orig_sha256), configure ${flags[*]}${1:+ $1}, make -j$jobs"
}

# built NAME EXTRA_FLAG: whether NAME's prefix holds a complete build with today's flags.
built() {
  local line=
  read -r line 2>/dev/null <"$root/$1/conlab-build.txt" || true
  [ "$line" = "$(stamp_key "$2")" ]
}

minutes() {
  echo "$(($1 / 60)) min $(($1 % 60)) s"
}

all_built() {
  built "$version" "" && built "${version}t" --disable-gil
}

if all_built; then
  echo "conlab: CPython $version and ${version}t are built in $root"
  exit 0
fi

mkdir -p "$root" "$logs"
exec 9>"$root/.lock"
if ! flock -n 9; then
  echo "conlab: another build of the interpreters is running; waiting for it" >&2
  flock 9
fi
if all_built; then
  echo "conlab: CPython $version and ${version}t are built in $root"
  exit 0
fi
# What a killed build left; nothing else builds while the lock is held.
rm -rf "$root"/.work.*
work=$(mktemp -d "$root/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_build_deps() {
  { command -v dpkg-query && command -v apt-get; } >/dev/null ||
    die "make pythons needs apt and dpkg (Debian or Ubuntu) to fetch Debian's python3.13 source and its build dependencies"
  local missing=() dep
  for dep in "${build_deps[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$dep" 2>/dev/null)" = "ii " ] || missing+=("$dep")
  done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" -eq 0 ] ||
    die "missing build dependencies: ${missing[*]}: install them with: sudo apt-get install ${missing[*]}"
  echo "conlab: installing build dependencies: ${missing[*]}"
  { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$logs/apt-install.log" 2>&1 ||
    die "cannot install build dependencies (${missing[*]}): see $logs/apt-install.log"
}

# Fetches the orig tarball of trixie's python3.13 into $work through a private apt state.
fetch_source() {
  local apt=$work/apt log=$logs/fetch.log reason
  mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial"
  echo "deb-src [signed-by=$keyring] $archive" >"$apt/sources.list"
  local opts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State="$apt/state" -o Dir::Cache="$apt/cache" -o APT::Sandbox::User="$(id -un)")
  echo "conlab: fetching Debian's python3.13 source ($archive)"
  if ! { apt-get "${opts[@]}" --error-on=any update &&
    (cd "$work" && apt-get "${opts[@]}" source --download-only --only-source python3.13); } >"$log" 2>&1; then
    reason=$(grep -m1 -E '^(E|W): ' "$log" | tr -s ' ' || true)
    die "cannot fetch Debian's python3.13 source (${reason:-apt-get failed}): check that the Debian archive ($archive) is reachable; apt's output is in $log"
  fi
  local dsc=("$work"/python3.13_*.dsc)
  debian_version=${dsc[0]##*/python3.13_}
  debian_version=${debian_version%.dsc}
  [ -f "$work/$orig" ] ||
    die "Debian's python3.13 source ($debian_version) no longer has $orig: update version and orig_sha256 in $0"
  echo "$orig_sha256  $work/$orig" | sha256sum --check --status ||
    die "$orig in Debian's python3.13 $debian_version does not have the sha256 this script expects ($orig_sha256)"
}

# The version of PACKAGE in uv.lock.
locked_version() {
  awk -v name="name = \"$1\"" '$0 == name { getline; gsub(/version = |"/, ""); print; exit }' "$repo/uv.lock"
}

# Installs conlab's core dependencies into the staged interpreter (-I: not into the user's site);
# psutil only when it installs.
install_core_deps() {
  local python=$1 log=$2 dep spec
  for dep in "${core_deps[@]}"; do
    spec=$dep==$(locked_version "$dep")
    [ "$spec" != "$dep==" ] || die "uv.lock holds no version of $dep"
    if "$python" -I -m pip install --disable-pip-version-check --no-warn-script-location "$spec" >>"$log" 2>&1; then
      echo "$spec installed"
    elif [ "$dep" = psutil ]; then
      echo "$spec not installed: pip failed (see $log); conlab's core works without it"
    else
      die "cannot install $spec into $python: see $log"
    fi
  done
}

# build NAME EXE [EXTRA_FLAG]: configure, make and install one interpreter into $root/NAME.
build() {
  local name=$1 exe=$2 extra=${3:-} start=$SECONDS
  local prefix=$root/$name log=$logs/$name.log dir=$work/$name
  local staged=$dir/dest$prefix
  echo "conlab: building CPython $name: configure ${flags[*]}${extra:+ $extra}, make -j$jobs (log: $log)"
  mkdir -p "$dir"
  tar -xf "$work/$orig" -C "$dir"
  (cd "$dir/Python-$version" &&
    ./configure --prefix="$prefix" "${flags[@]}" ${extra:+"$extra"} &&
    make -j"$jobs" &&
    make install DESTDIR="$dir/dest") >"$log" 2>&1 ||
    die "building CPython $name failed: see the end of $log"
  rm -rf "$dir/Python-$version"
  "$staged/bin/$exe" -I -c "import $modules" >>"$log" 2>&1 ||
    die "CPython $name was built without some of $modules: see the end of $log"
  local deps gil
  deps=$(install_core_deps "$staged/bin/$exe" "$log")
  gil=$("$staged/bin/$exe" -I -c "import sys, cloudpickle
try:
    import psutil
except ImportError:
    pass
print('enabled' if sys._is_gil_enabled() else 'disabled')" 2>>"$log") ||
    die "CPython $name cannot import its core dependencies: see the end of $log"
  local took=$((SECONDS - start))
  {
    stamp_key "$extra"
    echo "source: Debian's python3.13 $debian_version, upstream tarball only"
    echo "built $(date -u '+%Y-%m-%d %H:%M UTC') in $(minutes $took) on $(nproc) cores"
    echo "$deps"
    echo "GIL after importing them: $gil"
  } >"$staged/conlab-build.txt"
  if [ -e "$prefix" ]; then mv "$prefix" "$dir/old"; fi
  mv "$staged" "$prefix"
  echo "conlab: built CPython $name in $(minutes $took): $prefix/bin/$exe"
  echo "$deps" | sed 's/^/conlab:   /'
  echo "conlab:   GIL after importing them: $gil"
}

start=$SECONDS
install_build_deps
fetch_source
built "$version" "" || build "$version" python3.13
built "${version}t" --disable-gil || build "${version}t" python3.13t --disable-gil
echo "conlab: CPython $version and ${version}t built in $root ($(minutes $((SECONDS - start))) in all)"
