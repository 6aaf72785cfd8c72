#!/usr/bin/env bash
# Transfer throughput: ambake's SSH communicator (ssh2/libssh2, scp and SFTP) against OpenSSH's
# own scp and sftp, in the same run, on loopback, with a 1 GiB file (SIZE_MB to change).
# Runs as root (a private sshd logs in the current user's test account); nothing leaves 127.0.0.1.
# Usage: [BENCH_FILTER=regex] [SIZE_MB=n] [PROFILE=dir] bench/transfer.sh [runs]   → a table of median seconds and MiB/s, and ambake/OpenSSH ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
size_mb=${SIZE_MB:-1024}
[ "$(id -u)" = 0 ] || { echo "bench/transfer.sh: run as root (it starts a private sshd)" >&2; exit 1; }
# The debug build (libssh2 is optimised in it, see Cargo.toml); a release build takes 12+ min.
cargo build -q
bin="${CARGO_TARGET_DIR:-target}/debug/ambake"
user=ec2-user
id $user >/dev/null 2>&1 || useradd -m -s /bin/bash $user
usermod -p '*' $user; mkdir -p /run/sshd
w=$(mktemp -d); chmod 755 "$w"
trap 'kill $(cat "$w/sshd.pid" 2>/dev/null) 2>/dev/null; rm -rf "$w"' EXIT
ssh-keygen -q -t ed25519 -N '' -f "$w/host"; ssh-keygen -q -t ed25519 -N '' -f "$w/id"
cp "$w/id.pub" "$w/authorized_keys"; chmod 644 "$w/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$w/sshd_config" <<CFG
ListenAddress 127.0.0.1:$port
HostKey $w/host
PidFile $w/sshd.pid
AuthorizedKeysFile $w/authorized_keys
StrictModes no
UsePAM no
AllowUsers $user
Subsystem sftp /usr/lib/openssh/sftp-server
CFG
/usr/sbin/sshd -f "$w/sshd_config"
sleep 0.5
remote=/tmp/ambake-bench-$$; install -d -o $user "$remote"
head -c $((size_mb * 1048576)) /dev/urandom > "$w/src"
cp "$w/src" "$remote/src"; chown $user "$remote/src"
opts=(-q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i "$w/id")

time_it() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
# PROFILE=DIR: each measured command also runs once under `perf record` (the client's
# processes only; sshd runs outside it), and DIR/<name>.txt says where their CPU went: samples
# per process and library, then per function (2000 samples = one CPU second).
profile() {
  local name=$1; shift
  [ -n "${PROFILE:-}" ] || return 0
  command -v perf >/dev/null || { echo "PROFILE needs perf (apt-get install linux-perf)" >&2; exit 1; }
  mkdir -p "$PROFILE"
  local f="$PROFILE/${name// /-}"
  perf record -q -e cpu-clock -F 2000 -o "$f.data" -- "$@" >/dev/null 2>&1
  { echo "# $name: samples at 2000 Hz, by process and library"
    perf report -q -n -i "$f.data" --sort comm,dso 2>/dev/null
    echo "# by function (over 0.7 %)"
    perf report -q -n -i "$f.data" --sort comm,dso,sym --percent-limit 0.7 2>/dev/null; } > "$f.txt"
  rm -f "$f.data" "$w/down" "$remote/up"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench() {
  local name=$1; shift
  [[ "$name" =~ ${BENCH_FILTER:-.} ]] || return 0
  local times=()
  for _ in $(seq "$runs"); do times+=("$(time_it "$@")"); rm -f "$w/down" "$remote/up"; done
  profile "$name" "$@"
  local m; m=$(printf '%s\n' "${times[@]}" | median)
  printf '%-34s %8.3f s %9.1f MiB/s\n' "$name" "$m" "$(echo "$size_mb / $m" | bc -l)"
  echo "$name $m" >> "$w/results"
}
echo "size: ${size_mb} MiB, runs: $runs (median)"
bench "openssh scp upload"        scp "${opts[@]}" -P "$port" "$w/src" "$user@127.0.0.1:$remote/up"
bench "openssh scp -O upload"     scp -O "${opts[@]}" -P "$port" "$w/src" "$user@127.0.0.1:$remote/up"
bench "openssh sftp upload"       sh -c "echo 'put $w/src $remote/up' | sftp -b - -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i $w/id -P $port $user@127.0.0.1"
bench "ambake scp upload"         "$bin" transfer ${AMBAKE_TRANSFER_ARGS:-} --port "$port" --user $user --key "$w/id" upload "$w/src" "$remote/up"
bench "ambake sftp upload"        "$bin" transfer ${AMBAKE_TRANSFER_ARGS:-} --sftp --port "$port" --user $user --key "$w/id" upload "$w/src" "$remote/up"
bench "openssh scp download"      scp "${opts[@]}" -P "$port" "$user@127.0.0.1:$remote/src" "$w/down"
bench "openssh sftp download"     sh -c "echo 'get $remote/src $w/down' | sftp -b - -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i $w/id -P $port $user@127.0.0.1"
bench "ambake scp download"       "$bin" transfer ${AMBAKE_TRANSFER_ARGS:-} --port "$port" --user $user --key "$w/id" download "$remote/src" "$w/down"
bench "ambake sftp download"      "$bin" transfer ${AMBAKE_TRANSFER_ARGS:-} --sftp --port "$port" --user $user --key "$w/id" download "$remote/src" "$w/down"
rm -rf "$remote"
r() { awk -v n="$1" '$0 ~ "^"n" [0-9.]+$" {print $NF}' "$w/results"; }
ratio() { if [ -n "$(r "$1")" ] && [ -n "$(r "$2")" ]; then echo "scale=2; $(r "$2") / $(r "$1")" | bc; else echo "-"; fi; }
echo
echo "throughput ratio (ambake / OpenSSH; 1.00 = as fast, higher is better):"
echo "  scp upload:    $(ratio "ambake scp upload" "openssh scp upload") (vs scp -O: $(ratio "ambake scp upload" "openssh scp -O upload"))"
echo "  sftp upload:   $(ratio "ambake sftp upload" "openssh sftp upload")"
echo "  scp download:  $(ratio "ambake scp download" "openssh scp download")"
echo "  sftp download: $(ratio "ambake sftp download" "openssh sftp download")"
