#!/usr/bin/env bash
# Refresh the vendored browser libraries (server/web/vendor) from the npm registry.
#
# Usage:  deploy/scripts/vendor-web.sh [LIST...]
#         (no argument: every server/web/vendor/*.list)
#
# A list file names what to take from one npm package, one line (blank lines and # comments
# are ignored):
#
#     PACKAGE@VERSION  DIR  FILE[:AS]  FILE[:AS] ...
#
#     swagger-ui-dist@5.35.0  swagger-ui  swagger-ui-bundle.js  swagger-ui.css  LICENSE:LICENSE.txt
#
# FILE is a path inside the package's tarball (without the leading package/); AS is the name
# it gets (default: FILE's base name). The files land in server/web/vendor/DIR/VERSION/,
# other versions under DIR are removed, and DIR/VERSION/VERSIONS.txt gets one line per file:
# file, package name, version, licence (from the package's package.json), npm package. The
# server serves server/web/vendor at /vendor (see server/web/vendored.py), so a page asks for
# /vendor/DIR/VERSION/FILE.
#
# The tarball comes from `npm pack`, i.e. from whatever registry npm is configured to use on
# this machine (no host name is written here). Needs npm and node; nothing is installed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENDOR="$ROOT/server/web/vendor"

lists=("$@")
if ((${#lists[@]} == 0)); then
    shopt -s nullglob
    lists=("$VENDOR"/*.list)
    shopt -u nullglob
fi
((${#lists[@]})) || { echo "no list files in $VENDOR" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is needed (Debian: apt-get install npm)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

vendor_line() {
    local spec=$1 dir=$2; shift 2
    local name=${spec%@*} version=${spec##*@}
    if [[ -z $name || -z $version || $name == "$spec" ]]; then
        echo "bad package spec '$spec': want NAME@VERSION" >&2; return 1
    fi
    if [[ ! $dir =~ ^[A-Za-z0-9._-]+$ ]]; then
        echo "bad directory '$dir' for $spec" >&2; return 1
    fi
    local pack="$WORK/$dir"
    rm -rf "$pack"; mkdir -p "$pack"
    echo "== $spec -> server/web/vendor/$dir/$version/"
    local tgz
    tgz=$(cd "$pack" && npm pack --silent "$spec" | tail -n 1)
    tar -xzf "$pack/$tgz" -C "$pack"
    local got
    got=$(node -p 'const p=require(process.argv[1]); p.name+"@"+p.version' "$pack/package/package.json")
    [[ $got == "$name@$version" ]] || { echo "npm pack gave $got, not $spec" >&2; return 1; }
    local licence
    licence=$(node -p 'const p=require(process.argv[1]); typeof p.license==="string" ? p.license : JSON.stringify(p.license||p.licenses||"UNKNOWN")' "$pack/package/package.json")
    local out="$pack/out"
    mkdir -p "$out"
    {
        echo "# file  package  version  licence  npm-package  (written by deploy/scripts/vendor-web.sh)"
    } >"$out/VERSIONS.txt"
    local item src as
    for item in "$@"; do
        src=${item%%:*}
        as=${item#*:}
        [[ $item == *:* ]] || as=$(basename "$src")
        if [[ $src == *..* || $as == */* || $as == *..* ]]; then
            echo "bad file '$item' for $spec" >&2; return 1
        fi
        [[ -f "$pack/package/$src" ]] || { echo "$spec has no file $src" >&2; return 1; }
        cp "$pack/package/$src" "$out/$as"
        printf '%s  %s  %s  %s  %s\n' "$as" "$name" "$version" "$licence" "$spec" >>"$out/VERSIONS.txt"
    done
    rm -rf "${VENDOR:?}/$dir"
    mkdir -p "$VENDOR/$dir"
    mv "$out" "$VENDOR/$dir/$version"
    echo "   $(($# )) files, licence $licence"
}

for list in "${lists[@]}"; do
    [[ -f $list ]] || { echo "no list file $list" >&2; exit 1; }
    while read -r -a words || [[ ${#words[@]} -gt 0 ]]; do
        ((${#words[@]})) || continue
        [[ ${words[0]} == \#* ]] && continue
        if ((${#words[@]} < 3)); then
            echo "$list: want PACKAGE@VERSION DIR FILE...: ${words[*]}" >&2; exit 1
        fi
        vendor_line "${words[@]}"
    done <"$list"
done
