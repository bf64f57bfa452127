#!/usr/bin/env bash
# A private TimescaleDB server for tests, CI and developers on a Debian host whose release
# does not package TimescaleDB (bookworm).
#
#   deploy/scripts/timescaledb.sh start    # provision if needed, start, verify; last line:
#                                          #   METERLINK_TEST_TIMESCALE_URL=postgresql://...
#   deploy/scripts/timescaledb.sh status   # exit 0 and the URL when running, 3 when stopped
#   deploy/scripts/timescaledb.sh stop
#
# How: apt-get downloads (only downloads, with its own sources list, lists, status file and
# cache, touching nothing of the system's apt state) postgresql-17 and
# postgresql-17-timescaledb from the next Debian release, using the mirror the system's own
# apt sources name. The debs are unpacked into a cache folder, and patchelf points the
# PostgreSQL binaries at the unpacked glibc and libraries. The server runs as a non-root
# user (PostgreSQL refuses root), on a free port of 127.0.0.1 only, trust auth, with
# shared_preload_libraries=timescaledb. It is a scratch server: fsync is off.
#
# Environment (all optional):
#   METERLINK_TIMESCALE_HOME   cache folder (install, apt state, data, log). Default:
#                              ${XDG_CACHE_HOME:-$HOME/.cache}/meterlink/timescaledb, or
#                              /var/cache/meterlink/timescaledb as root (the server user
#                              must be able to reach it, and root's home is private)
#   METERLINK_TIMESCALE_DATA   data directory (default: $METERLINK_TIMESCALE_HOME/data)
#   METERLINK_TIMESCALE_PORT   port to use (default: the previous one if free, else a free one)
#   METERLINK_TIMESCALE_USER   system user that runs the server when started as root
#                              (default meterlink-pg, created if missing)
#   METERLINK_DEBIAN_MIRROR    Debian mirror URL (default: from the system's apt sources)
#   METERLINK_TIMESCALE_SUITE  Debian suite to take the packages from (default trixie)
#
# Licence note: Debian's timescaledb is the Apache-2.0 build. Hypertables, time_bucket,
# first/last, drop_chunks work; compression, continuous aggregates, add_retention_policy,
# add_job and time_bucket_gapfill are refused.
set -euo pipefail

PG_MAJOR=17
SUITE=${METERLINK_TIMESCALE_SUITE:-trixie}
PACKAGES=("postgresql-$PG_MAJOR" "postgresql-$PG_MAJOR-timescaledb" patchelf)
DB_SUPERUSER=postgres
START_TIMEOUT=60   # seconds pg_ctl waits for the server to accept connections
STOP_TIMEOUT=60
LOCK_TIMEOUT=900   # seconds to wait for another run of this script on the same cache
INSTALL_STAMP_VERSION=1   # bump to force a re-provision after a change of layout

PROG=${0##*/}
T0=$(date +%s)

log() { printf '[%s +%ss] %s\n' "$PROG" "$(($(date +%s) - T0))" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }

if [[ -n ${METERLINK_TIMESCALE_HOME:-} ]]; then
    TS_HOME=$METERLINK_TIMESCALE_HOME
elif ((EUID == 0)); then
    TS_HOME=/var/cache/meterlink/timescaledb
else
    TS_HOME=${XDG_CACHE_HOME:-$HOME/.cache}/meterlink/timescaledb
fi
DATA=${METERLINK_TIMESCALE_DATA:-$TS_HOME/data}
ROOT=$TS_HOME/root               # unpacked debs
APT_DIR=$TS_HOME/apt             # private apt state
RUN_DIR=$TS_HOME/run             # server log, last port
READY=$ROOT/.meterlink-ready     # written last: the install is complete
LIBDIR=$ROOT/usr/lib/x86_64-linux-gnu
PGBIN=$ROOT/usr/lib/postgresql/$PG_MAJOR/bin
PGLIB=$ROOT/usr/lib/postgresql/$PG_MAJOR/lib
LOADER=$LIBDIR/ld-linux-x86-64.so.2
LOGFILE=$RUN_DIR/postgres.log

case $(uname -m) in
    x86_64) ;;
    *) die "only x86_64 is supported (this is $(uname -m))" ;;
esac

if ((EUID == 0)); then
    RUN_USER=${METERLINK_TIMESCALE_USER:-meterlink-pg}
else
    RUN_USER=$(id -un)
fi

# Runs a command as the server user, from a directory that user can read.
as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u "$RUN_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

ensure_user() {
    ((EUID == 0)) || return 0
    if ! id -u "$RUN_USER" >/dev/null 2>&1; then
        log "creating system user $RUN_USER"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$RUN_USER" || die "could not create user $RUN_USER"
    fi
}

# ---------------------------------------------------------------------------------------
# Provisioning

# The Debian mirror URL from the system's apt sources (deb822 *.sources first, then
# one-line *.list), taking the entry for the release itself (not -security/-updates).
debian_mirror() {
    if [[ -n ${METERLINK_DEBIAN_MIRROR:-} ]]; then
        printf '%s\n' "$METERLINK_DEBIAN_MIRROR"
        return
    fi
    local codename uri=""
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    [[ -n $codename ]] || die "cannot read VERSION_CODENAME from /etc/os-release"
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk -v want="$codename" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && uris != "" && (" " suites " ") ~ (" " want " ")) {
                    split(uris, u, " "); print u[1]; found = 1; exit
                }
                types = ""; uris = ""; suites = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            tolower($1) == "types:"  { $1 = ""; types = $0 }
            tolower($1) == "uris:"   { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            END { if (!found) flush() }
        ' "$f")
        [[ -n $uri ]] && break
    done
    if [[ -z $uri ]]; then
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [[ -f $f ]] || continue
            uri=$(awk -v want="$codename" '
                $1 == "deb" {
                    i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                    if ($(i + 1) == want) { print $i; exit }
                }' "$f")
            [[ -n $uri ]] && break
        done
    fi
    [[ -n $uri ]] || die "no Debian mirror for '$codename' found in /etc/apt/sources.list*; set METERLINK_DEBIAN_MIRROR"
    printf '%s\n' "$uri"
}

apt_private() {
    local opts=(
        -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
        -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
        -o "Dir::Etc::PreferencesParts=$APT_DIR/preferences.d"
        -o "Dir::Etc::Preferences=$APT_DIR/preferences"
        -o "Dir::State=$APT_DIR/state"
        -o "Dir::State::Lists=$APT_DIR/lists"
        -o "Dir::State::status=$APT_DIR/status"
        -o "Dir::Cache=$APT_DIR/cache"
        -o "Debug::NoLocking=1"
        -o "APT::Get::List-Cleanup=0"
        -o "Acquire::Retries=3"
    )
    ((EUID == 0)) && opts+=(-o "APT::Sandbox::User=root")
    apt-get -q "${opts[@]}" "$@"
}

is_elf() { [[ -f $1 && ! -L $1 && $(head -c 4 "$1" | od -An -c | tr -d ' ') == '177ELF' ]]; }

provision() {
    command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian host"
    command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
    local mirror
    mirror=$(debian_mirror)
    log "provisioning PostgreSQL $PG_MAJOR + TimescaleDB from Debian $SUITE into $ROOT"
    local pid
    if [[ -f $DATA/postmaster.pid ]] && pid=$(head -1 "$DATA/postmaster.pid") &&
        [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        die "a server (pid $pid) still runs from $DATA: stop it (kill -INT $pid) before re-provisioning"
    fi
    rm -rf "$ROOT" "$APT_DIR"
    mkdir -p "$APT_DIR"/{sources.list.d,preferences.d,state,lists/partial,cache/archives/partial}
    : >"$APT_DIR/status"
    : >"$APT_DIR/preferences"
    local signed_by=""
    [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] &&
        signed_by=" [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
    printf 'deb%s %s %s main\n' "$signed_by" "$mirror" "$SUITE" >"$APT_DIR/sources.list"

    log "apt-get update (private lists for $SUITE)"
    apt_private update >"$APT_DIR/update.log" 2>&1 ||
        { tail -20 "$APT_DIR/update.log" >&2; die "apt-get update for $SUITE failed (log above)"; }
    log "apt-get install --download-only ${PACKAGES[*]}"
    apt_private -y install --download-only --no-install-recommends "${PACKAGES[@]}" \
        >"$APT_DIR/download.log" 2>&1 ||
        { tail -20 "$APT_DIR/download.log" >&2; die "downloading ${PACKAGES[*]} failed (log above)"; }

    # Unpack what the server needs: its own packages and the shared libraries. LLVM (only
    # for JIT, which is switched off) and Perl are left out.
    log "unpacking debs"
    mkdir -p "$ROOT"
    local deb name n=0
    for deb in "$APT_DIR"/cache/archives/*.deb; do
        name=${deb##*/}
        name=${name%%_*}
        case $name in
            libllvm* | libz3-* | libperl* | lib*-perl | libc-l10n) continue ;;
            lib* | zlib1g | patchelf | "postgresql-$PG_MAJOR" | "postgresql-client-$PG_MAJOR" | \
                "postgresql-$PG_MAJOR-timescaledb") ;;
            *) continue ;;
        esac
        dpkg-deb -x "$deb" "$ROOT" || die "dpkg-deb -x $deb failed"
        n=$((n + 1))
    done
    ((n > 0)) || die "no debs were downloaded"
    [[ -x $LOADER && -x $PGBIN/postgres ]] || die "unpacked tree lacks $LOADER or $PGBIN/postgres"
    rm -rf "$PGLIB/llvmjit.so" "$PGLIB/llvmjit_types.bc" "$PGLIB/bitcode"

    # patchelf: the host's if there is one, else the unpacked one through the unpacked loader.
    local patchelf=()
    if command -v patchelf >/dev/null; then
        patchelf=(patchelf)
    else
        patchelf=("$LOADER" --library-path "$LIBDIR" "$ROOT/usr/bin/patchelf")
    fi
    log "patching binaries (interpreter and rpath)"
    local f
    for f in "$PGBIN"/*; do
        is_elf "$f" || continue
        "${patchelf[@]}" --set-interpreter "$LOADER" --force-rpath \
            --set-rpath "$LIBDIR:$PGLIB" "$f" || die "patchelf failed on $f"
    done
    local version
    version=$("$PGBIN/postgres" --version) || die "patched postgres does not run"
    ls "$PGLIB"/timescaledb.so >/dev/null 2>&1 || die "timescaledb.so missing from $PGLIB"
    rm -rf "$APT_DIR/cache/archives"/*.deb "$APT_DIR/cache"/*.bin
    chmod -R a+rX "$ROOT"
    printf 'stamp=%s\nsuite=%s\npostgres=%s\ntimescaledb=%s\n' "$INSTALL_STAMP_VERSION" "$SUITE" \
        "$version" "$(ls "$ROOT/usr/share/postgresql/$PG_MAJOR/extension"/timescaledb--*.*.*.sql |
            sed -n 's/.*timescaledb--\([0-9.]*\)\.sql$/\1/p' | sort -V | tail -1)" >"$READY"
    log "installed: $(tr '\n' ' ' <"$READY")"
}

ensure_install() {
    if [[ -f $READY ]] && grep -qx "stamp=$INSTALL_STAMP_VERSION" "$READY" &&
        grep -qx "suite=$SUITE" "$READY" && "$PGBIN/postgres" --version >/dev/null 2>&1; then
        return 0
    fi
    provision
}

# ---------------------------------------------------------------------------------------
# Server

running_pid() {   # prints the postmaster pid if our data directory's server is running
    [[ -f $DATA/postmaster.pid ]] || return 1
    local pid
    pid=$(head -1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    # the pid must be a postgres of this install (a stale pid file can name another process)
    [[ /proc/$pid/exe -ef $PGBIN/postgres ]] || return 1
    printf '%s\n' "$pid"
}

running_port() { sed -n 4p "$DATA/postmaster.pid"; }

port_in_use() {
    local p=$1
    if command -v ss >/dev/null; then
        [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
    fi
}

pick_port() {
    local p
    if [[ -n ${METERLINK_TIMESCALE_PORT:-} ]]; then
        p=$METERLINK_TIMESCALE_PORT
        [[ $p =~ ^[0-9]+$ && $p != 5432 ]] || die "METERLINK_TIMESCALE_PORT must be a port number other than 5432"
        port_in_use "$p" && die "port $p is already in use"
        printf '%s\n' "$p"
        return
    fi
    if [[ -f $RUN_DIR/last-port ]]; then
        p=$(<"$RUN_DIR/last-port")
        if [[ $p =~ ^[0-9]+$ && $p != 5432 ]] && ! port_in_use "$p"; then
            printf '%s\n' "$p"
            return
        fi
    fi
    local i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 10000))
        port_in_use "$p" || { printf '%s\n' "$p"; return; }
    done
    die "no free port found in 20000-29999"
}

psql_q() {   # psql_q PORT DB SQL  -> unaligned tuples
    as_pg env PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$DB_SUPERUSER" \
        -d "$2" -c "$3"
}

ensure_data() {
    mkdir -p "$TS_HOME" "$RUN_DIR"
    ((EUID == 0)) && chown "$RUN_USER:" "$RUN_DIR"
    if [[ -f $DATA/PG_VERSION ]]; then
        [[ $(<"$DATA/PG_VERSION") == "$PG_MAJOR" ]] ||
            die "$DATA holds a PostgreSQL $(<"$DATA/PG_VERSION") cluster, not $PG_MAJOR: remove it or set METERLINK_TIMESCALE_DATA"
    else
        if [[ -d $DATA ]] && [[ -n $(ls -A "$DATA") ]]; then
            die "$DATA exists, is not empty and is no PostgreSQL data directory"
        fi
        log "initdb $DATA"
        mkdir -p "$DATA"
        ((EUID == 0)) && chown "$RUN_USER:" "$DATA"
        chmod 700 "$DATA"
        as_pg "$PGBIN/initdb" -D "$DATA" -U "$DB_SUPERUSER" --auth-local=trust --auth-host=trust \
            --no-locale --encoding=UTF8 --no-instructions >"$RUN_DIR/initdb.log" 2>&1 ||
            { tail -20 "$RUN_DIR/initdb.log" >&2; die "initdb failed (log above)"; }
        echo "include_if_exists = 'meterlink.conf'" >>"$DATA/postgresql.conf"
    fi
    as_pg test -w "$DATA" || die "$DATA is not writable by $RUN_USER"
}

write_conf() {   # write_conf PORT
    local conf=$DATA/meterlink.conf
    cat >"$conf" <<EOF
# written by deploy/scripts/timescaledb.sh on every start
port = $1
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_worker_processes = 32
timescaledb.max_background_workers = 16
max_connections = 200
jit = off
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
EOF
    ((EUID == 0)) && chown "$RUN_USER:" "$conf"
    return 0
}

# Checks that the server on PORT is ours (its data directory) and that timescaledb works;
# prints the extension version.
verify() {
    local port=$1 dir version
    dir=$(psql_q "$port" postgres "SELECT current_setting('data_directory')") ||
        die "cannot query the server on 127.0.0.1:$port"
    [[ $dir -ef $DATA ]] || die "the server on port $port serves $dir, not $DATA"
    psql_q "$port" postgres "DROP DATABASE IF EXISTS meterlink_probe WITH (FORCE)" >/dev/null
    psql_q "$port" postgres "CREATE DATABASE meterlink_probe" >/dev/null
    version=$(psql_q "$port" meterlink_probe "CREATE EXTENSION IF NOT EXISTS timescaledb;
        SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") ||
        die "CREATE EXTENSION timescaledb failed on port $port (see $LOGFILE)"
    psql_q "$port" postgres "DROP DATABASE meterlink_probe WITH (FORCE)" >/dev/null
    [[ -n $version ]] || die "timescaledb extension not found after CREATE EXTENSION"
    printf '%s\n' "$version"
}

url_for() { printf 'postgresql://%s@127.0.0.1:%s/postgres\n' "$DB_SUPERUSER" "$1"; }

lock() {
    mkdir -p "$TS_HOME"
    exec 9>"$TS_HOME/.lock"
    flock -w "$LOCK_TIMEOUT" 9 || die "another $PROG holds $TS_HOME/.lock for over ${LOCK_TIMEOUT}s"
}

cmd_start() {
    lock
    ensure_install
    ensure_user
    as_pg test -x "$PGBIN/postgres" ||
        die "$RUN_USER cannot execute $PGBIN/postgres (is $TS_HOME under a private folder? set METERLINK_TIMESCALE_HOME)"
    ensure_data
    local pid port version attempt
    if pid=$(running_pid); then
        port=$(running_port)
        log "already running (pid $pid, port $port); reusing"
    else
        for attempt in 1 2 3; do
            port=$(pick_port)
            write_conf "$port"
            log "starting postgres on 127.0.0.1:$port (log $LOGFILE)"
            if as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t "$START_TIMEOUT" start \
                >"$RUN_DIR/pg_ctl.log" 2>&1 9>&-; then  # the server must not inherit the lock
                break
            fi
            if [[ -z ${METERLINK_TIMESCALE_PORT:-} ]] && ((attempt < 3)) &&
                tail -20 "$LOGFILE" | grep -q 'could not bind\|Address already in use'; then
                log "port $port was taken meanwhile; trying another"
                continue
            fi
            cat "$RUN_DIR/pg_ctl.log" >&2
            tail -30 "$LOGFILE" >&2 || true
            die "postgres did not start within ${START_TIMEOUT}s (log above)"
        done
        printf '%s\n' "$port" >"$RUN_DIR/last-port"
    fi
    version=$(verify "$port")
    log "TimescaleDB $version ready ($("$PGBIN/postgres" --version))"
    echo "METERLINK_TEST_TIMESCALE_URL=$(url_for "$port")"
}

cmd_stop() {
    local pid
    if ! pid=$(running_pid); then
        log "not running ($DATA)"
        return 0
    fi
    lock
    log "stopping postgres (pid $pid)"
    if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null; then
        log "fast shutdown timed out; immediate shutdown"
        as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w -t "$STOP_TIMEOUT" stop >/dev/null ||
            die "could not stop postgres (pid $pid)"
    fi
    log "stopped"
}

cmd_status() {
    local pid port
    if pid=$(running_pid); then
        port=$(running_port)
        echo "running: pid $pid, port $port, data $DATA"
        [[ -f $READY ]] && sed -n 's/^\(postgres\|timescaledb\)=/  \1: /p' "$READY"
        echo "METERLINK_TEST_TIMESCALE_URL=$(url_for "$port")"
        return 0
    fi
    echo "stopped (data $DATA)"
    return 3
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $PROG start|stop|status" >&2
        exit 2
        ;;
esac
