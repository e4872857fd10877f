#!/usr/bin/env bash
# A private RabbitMQ broker for Herald's integration tests: a plain process under a
# directory of the caller's choosing, listening on loopback only, with its own epmd,
# so several test runs (and other users of the machine) never share a broker or epmd.
#
# Usage: rabbitmq_fixture.sh COMMAND DIR [--kill]
#   start DIR         Start the broker kept in DIR (created on first use; the ports are
#                     chosen then and kept for later starts, so URLs stay valid), wait
#                     until it accepts work, print its AMQP port on stdout. If it is
#                     already running, just print the port.
#   url DIR           Print amqp://guest:guest@127.0.0.1:PORT/ for the broker in DIR.
#   halt DIR [--kill] Stop the broker but keep its data, ports and epmd, so a test can
#                     observe the outage and bring it back with `start DIR`.
#                     Graceful (rabbitmqctl stop) by default; --kill sends SIGKILL.
#   restart DIR [--kill]  halt then start; prints the port.
#   stop DIR          Stop the broker (gracefully, SIGKILL if that fails) and the epmd
#                     this fixture started. DIR is left in place; delete it yourself.
#   status DIR        Exit 0 if the broker answers, 1 otherwise.
#   freeze DIR        SIGSTOP the broker: its sockets stay open but nothing answers,
#                     as in a network partition. `thaw DIR` sends SIGCONT.
#   ctl DIR ARGS...   Run rabbitmqctl against the broker, e.g. `ctl DIR list_queues`.
#
# Typical use from a test:
#   dir=$(mktemp -d); port=$(rabbitmq_fixture.sh start "$dir")
#   ... run Herald nodes with amqp://guest:guest@127.0.0.1:$port/ ...
#   rabbitmq_fixture.sh restart "$dir" --kill   # crash and recover the broker
#   rabbitmq_fixture.sh stop "$dir"; rm -rf "$dir"
#
# Timings on our machines: start 5 to 10 s, graceful halt 2 to 3 s, start after a
# SIGKILL about 8 s. Logs go to DIR/log/server.out; when `start` fails it prints the
# tail of that log on stderr and exits non-zero.
#
# Why the details (see /work/shared/notes/rabbitmq.md):
#  * the /usr/sbin wrappers switch to the rabbitmq user, after which the CLI cannot read
#    the Erlang cookie, so the server script is called directly, with HOME in DIR;
#  * the Erlang distribution port is the AMQP port + 20000 and the CLI uses ports near
#    AMQP port + 30000, so the AMQP port is taken from 20000-35000 with those free too;
#  * epmd gets a private port (ERL_EPMD_PORT) so stopping it never breaks a broker
#    that someone else started.
set -euo pipefail

RABBIT_BIN=${RABBIT_BIN:-/usr/lib/rabbitmq/bin}

die() { echo "rabbitmq_fixture: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || die "usage: $0 start|url|halt|restart|stop|status|freeze|thaw|ctl DIR [--kill | ARGS...]"
cmd=$1
dir=$2
shift 2
kill_mode=0
[[ ${1:-} == --kill ]] && kill_mode=1

port_in_use() {
  # Listening or bound TCP sockets on any address count as taken.
  ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .
}

pick_ports() {
  local p e tries=0 clash k
  while ((tries++ < 200)); do
    p=$((20000 + RANDOM % 15000))
    clash=0
    for k in 0 20000 $(seq 30000 30010); do
      if port_in_use $((p + k)); then clash=1; break; fi
    done
    ((clash)) && continue
    e=$((10000 + RANDOM % 9000))
    port_in_use "$e" && continue
    echo "$p $e"
    return 0
  done
  die "no free port range found"
}

setup_env() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ ! -f $dir/ports ]]; then
    pick_ports >"$dir/ports"
  fi
  read -r amqp_port epmd_port <"$dir/ports"
  node=herald${amqp_port}@localhost
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  pid_file=$dir/rabbit.pid
  export HOME=$dir/home
  export RABBITMQ_NODENAME=$node
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$amqp_port
  export RABBITMQ_MNESIA_BASE=$dir/mnesia
  export RABBITMQ_LOG_BASE=$dir/log
  export RABBITMQ_PID_FILE=$pid_file
  export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
  export RABBITMQ_CONFIG_FILE=$dir/rabbitmq
  export RABBITMQ_LOGS=-
  export ERL_EPMD_ADDRESS=127.0.0.1
  export ERL_EPMD_PORT=$epmd_port
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  [[ -f $dir/enabled_plugins ]] || echo "[]." >"$dir/enabled_plugins"
}

ctl() { "$RABBIT_BIN/rabbitmqctl" -n "$node" "$@"; }

broker_pid() {
  local pid
  [[ -f $pid_file ]] || return 1
  pid=$(tr -dc 0-9 <"$pid_file")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

wait_gone() {
  local pid=$1 tenths=${2:-300} i
  for ((i = 0; i < tenths; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

remember_epmd() {
  # epmd is started by the broker's Erlang runtime and outlives it; note its pid so
  # that `stop` ends exactly that process.
  local pid
  pid=$(ss -Htlnp "( sport = :$epmd_port )" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  [[ -n $pid ]] && echo "$pid" >"$dir/epmd.pid"
  return 0
}

do_start() {
  if broker_pid >/dev/null && ctl status >/dev/null 2>&1; then
    echo "$amqp_port"
    return 0
  fi
  rm -f "$pid_file"
  setsid "$RABBIT_BIN/rabbitmq-server" >>"$dir/log/server.out" 2>&1 </dev/null &
  if ! ctl wait --timeout 90 "$pid_file" >"$dir/log/wait.out" 2>&1; then
    tail -n 40 "$dir/log/server.out" >&2 || true
    cat "$dir/log/wait.out" >&2 || true
    die "broker in $dir did not start"
  fi
  remember_epmd
  echo "$amqp_port"
}

do_halt() {
  local pid
  pid=$(broker_pid) || return 0
  kill -CONT "$pid" 2>/dev/null || true  # a frozen broker would never answer `stop`
  if ((kill_mode)); then
    kill -9 "$pid"
  else
    ctl stop "$pid_file" >/dev/null 2>&1 || kill -9 "$pid" 2>/dev/null || true
  fi
  wait_gone "$pid" || { kill -9 "$pid" 2>/dev/null || true; wait_gone "$pid" || die "broker pid $pid did not exit"; }
}

do_stop() {
  do_halt
  if [[ -f $dir/epmd.pid ]]; then
    local pid
    pid=$(cat "$dir/epmd.pid")
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null || true) == epmd ]]; then
      kill "$pid" 2>/dev/null || true
      wait_gone "$pid" 20 || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/epmd.pid"
  fi
}

setup_env
case $cmd in
  start) do_start ;;
  url) echo "amqp://guest:guest@127.0.0.1:$amqp_port/" ;;
  halt) do_halt ;;
  restart) do_halt; do_start ;;
  stop) do_stop ;;
  status) ctl status >/dev/null 2>&1 ;;
  ctl) ctl "$@" ;;
  freeze) pid=$(broker_pid) || die "broker in $dir is not running"; kill -STOP "$pid" ;;
  thaw) pid=$(broker_pid) || die "broker in $dir is not running"; kill -CONT "$pid" ;;
  *) die "unknown command '$cmd'" ;;
esac
