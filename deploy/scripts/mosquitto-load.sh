#!/usr/bin/env bash
# A private Mosquitto for load tests and benchmarks, on a free loopback port.
#
#   deploy/scripts/mosquitto-load.sh start   # last line: METERLINK_LOAD_MQTT_URL=mqtt://127.0.0.1:PORT
#   deploy/scripts/mosquitto-load.sh status  # exit 0 and the URL when running, 3 when stopped
#   deploy/scripts/mosquitto-load.sh stop
#
# Why: Debian's default configuration keeps max_queued_messages 1000, so a slow subscriber
# silently loses QoS 1 messages beyond that (measured: 4,400-6,700 of 10,000 delivered). This
# broker queues without limit and keeps nothing on disk; like a site's broker it refuses a
# packet over the wire's 4 MiB + 4 KiB. Only the pid it wrote is stopped.
set -euo pipefail
HOME_DIR=${METERLINK_LOAD_MQTT_HOME:-${XDG_RUNTIME_DIR:-/tmp}/meterlink-mosquitto-load-$(id -u)}
PIDFILE=$HOME_DIR/mosquitto.pid
PORTFILE=$HOME_DIR/port
CONF=$HOME_DIR/mosquitto.conf
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}

running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
url() { echo "METERLINK_LOAD_MQTT_URL=mqtt://127.0.0.1:$(cat "$PORTFILE")"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1
    for _ in $(seq 50); do
        if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$port)))"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

case ${1:-} in
start)
    mkdir -p "$HOME_DIR"
    if running; then url; exit 0; fi
    [[ -x $MOSQUITTO ]] || { echo "mosquitto not found: install Debian's mosquitto" >&2; exit 1; }
    port=$(free_port)
    cat >"$CONF" <<CONF
# written by deploy/scripts/mosquitto-load.sh: loopback only, no queue limits, no persistence
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
max_packet_size 4198400
log_dest file $HOME_DIR/mosquitto.log
CONF
    echo "$port" >"$PORTFILE"
    "$MOSQUITTO" -c "$CONF" >/dev/null 2>&1 &
    echo $! >"$PIDFILE"
    if ! wait_port "$port"; then
        echo "mosquitto did not open 127.0.0.1:$port; see $HOME_DIR/mosquitto.log" >&2
        exit 1
    fi
    url
    ;;
status)
    if running; then url; else echo "stopped"; exit 3; fi
    ;;
stop)
    if running; then
        pid=$(cat "$PIDFILE")
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$PIDFILE"
    ;;
*)
    echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
