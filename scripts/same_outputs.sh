#!/usr/bin/env bash
# Checks that a change to the model's code leaves its results alone: builds
# BASE (a git revision, default origin/main or main) and the working tree,
# runs every bundled simulated scenario and a few extra ones (faults,
# queues, every offload, every path in both directions) through both
# binaries, and compares the JSON summaries, the trace of one buffer and
# every pcapng capture byte for byte.
#
#   scripts/same_outputs.sh [BASE]
#
# Exit status 0 when every output is identical, 1 otherwise. A scenario the
# base cannot read (it uses something newer) is listed and skipped. Needs only git,
# cargo and sha256sum. Scenarios with [tap] are skipped (they need a real
# kernel and follow the wall clock). Use it for refactors; a change meant
# to alter results (a fidelity fix) will of course show differences.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
base=${1:-$(git rev-parse --verify -q origin/main || git rev-parse main)}
work=$(mktemp -d "${TMPDIR:-/tmp}/simnet-same.XXXXXX")
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "base: $(git rev-parse --short "$base"); new: working tree of $(git rev-parse --short HEAD)"
git worktree add --detach -q "$work/base" "$base"
export CARGO_TARGET_DIR_BASE=$work/target-base
(cd "$work/base" && CARGO_TARGET_DIR=$CARGO_TARGET_DIR_BASE cargo build --release -q --bin simnet)
cargo build --release -q --bin simnet
old=$CARGO_TARGET_DIR_BASE/release/simnet
new=${CARGO_TARGET_DIR:-$root/target}/release/simnet

# Extra scenarios: what the bundled ones leave out.
mkdir -p "$work/extra"
cat > "$work/extra/faults_both_ways.toml" <<'EOF'
[scenario]
name = "faults_both_ways"
seed = 11
time_limit = "600s"
[link]
rate = "1Gbit/s"
delay = "20us"
queue = "256KiB"
[link.faults]
loss = 0.002
duplicate = 0.005
reorder = 0.005
reorder_delay = "30us"
corrupt = 0.002
[hosts.a]
address = "10.1.0.1/24"
nic = { offload = ["gso", "gro"], rx_ring = 64 }
[hosts.b]
address = "10.1.0.2/24"
nic = { offload = ["tx-checksum", "rx-checksum", "tso", "gro"], irq_coalesce = 0, header_split = true }
socket = { sndbuf = "256KiB", rcvbuf = "128KiB", congestion = "reno" }
[[flow]]
from = "a"
to = "b"
bytes = "3MiB"
write_size = "10000"
read_size = "7000"
send = "msg_zerocopy"
recv = "zerocopy_receive"
buffer = { pool = "recycling", pool_size = 4, align = "cacheline" }
[[flow]]
from = "b"
to = "a"
bytes = "2MiB"
write_size = "3000"
send = "io_uring_send_zc"
recv = "io_uring_provided"
buffer = { pool = "dynamic" }
[[flow]]
from = "a"
to = "b"
bytes = "1MiB"
write_size = "5000"
send = "writev"
iovecs = 3
recv = "readv"
echo = true
EOF
cat > "$work/extra/every_path.toml" <<'EOF'
[scenario]
name = "every_path"
seed = 5
[link]
rate = "25Gbit/s"
mtu = 9000
[hosts.x]
address = "10.2.0.1/16"
nic = { offload = ["tx-checksum", "rx-checksum", "tso"], tx_ring = 64, napi_budget = 16, copybreak = 0 }
cpu = { copy_bandwidth = "5GB/s", irq = "1us" }
[hosts.y]
address = "10.2.1.1/16"
nic = { offload = ["tx-checksum", "rx-checksum", "gro"], header_split = true }
[[flow]]
from = "x"
to = "y"
bytes = "2MiB"
send = "sendfile"
recv = "splice"
[[flow]]
from = "x"
to = "y"
bytes = "2MiB"
send = "splice"
[[flow]]
from = "y"
to = "x"
bytes = "2MiB"
write_size = "100KiB"
send = "io_uring_fixed"
buffer = { pool_size = 3 }
[[flow]]
from = "x"
to = "y"
bytes = "1MiB"
write_size = "1KiB"
send = "io_uring"
[[flow]]
from = "y"
to = "x"
bytes = "1500000"
write_size = "4000"
send = "msg_zerocopy"
buffer = { reuse = "immediately", pool = "none" }
[[flow]]
from = "x"
to = "y"
bytes = "1MiB"
write_size = "333"
send = "write"
buffer = { kind = "dynamic_vector", pool = "thread_local" }
framing = { kind = "delimited", delimiter = ";" }
[[flow]]
from = "y"
to = "x"
bytes = "1MiB"
write_size = "2000"
send = "write"
framing = { kind = "header_body_trailer", header = 10, trailer = 3 }
EOF

scenarios=()
for f in scenarios/*.toml; do
  grep -q '^\[tap\]' "$f" || scenarios+=("$root/$f")
done
scenarios+=("$work/extra/faults_both_ways.toml" "$work/extra/every_path.toml")

# Runs one binary on one scenario from its own folder, so that the capture
# paths printed in the JSON are the same for both; prints digests.
outputs() { # BIN SCENARIO OUT
  local bin=$1 sc=$2 out=$3
  mkdir -p "$out" && cd "$out"
  "$bin" run "$sc" --json --pcap caps > summary.json 2> stderr.txt || echo "exit $?" >> stderr.txt
  if grep -q 'send = "msg_zerocopy"\|send = "write"' "$sc"; then
    "$bin" trace "$sc" --buffer 0 --all --pcap trace-caps > trace.txt 2>> stderr.txt || echo "trace exit $?" >> stderr.txt
  fi
  find . -type f -print0 | sort -z | xargs -0 sha256sum
  cd - >/dev/null
}

status=0
for sc in "${scenarios[@]}"; do
  name=$(basename "$sc" .toml)
  a=$(outputs "$old" "$sc" "$work/old/$name")
  b=$(outputs "$new" "$sc" "$work/new/$name")
  files=$(echo "$a" | wc -l)
  if grep -q '^exit 2$' "$work/old/$name/stderr.txt"; then
    # A scenario newer than the base (a key or feature it cannot read).
    printf '%-24s skipped: the base cannot read it\n' "$name"
  elif [ "$a" == "$b" ]; then
    printf '%-24s identical (%d files)\n' "$name" "$files"
  else
    printf '%-24s DIFFERENT\n' "$name"
    diff <(echo "$a") <(echo "$b") || true
    diff "$work/old/$name/summary.json" "$work/new/$name/summary.json" | head -20 || true
    status=1
  fi
  rm -rf "$work/old/$name" "$work/new/$name"
done
exit $status
