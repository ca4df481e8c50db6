#!/usr/bin/env bash
# Two hosts without ssh or a second machine: two network namespaces on this
# machine, each with its own hostname, joined by a virtual Ethernet pair
# (10.77.0.1 and 10.77.0.2). mpirun runs in the first; a small launcher stands
# in for ssh and starts Open MPI's daemon (orted) inside the second. The ranks
# talk over TCP only (no shared memory). The program trains the same model as
# one process and as 2 ranks, one per host, and compares the weights
# (tests/dist/test_dist_equal.c).
# Usage: two_hosts.sh MPIRUN_ARGS... -- PROGRAM [ARGS...]
# Exits 77 (skipped) where namespaces cannot be made (not root, no iproute2).
set -euo pipefail
mpirun=()
while [[ $# -gt 0 && "$1" != "--" ]]; do mpirun+=("$1"); shift; done
shift || true
[[ $# -gt 0 ]] || { echo "usage: two_hosts.sh MPIRUN_ARGS... -- PROGRAM [ARGS...]"; exit 2; }

a="pxa$$" b="pxb$$"   # namespace and interface names, unique per run
work=$(mktemp -d)
cleanup() {
  ip netns del "$a" 2>/dev/null || true
  ip netns del "$b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
if ! command -v ip >/dev/null || ! command -v unshare >/dev/null || ! ip netns add "$a" 2>/dev/null; then
  echo "skipped: cannot make network namespaces here (needs root and iproute2)"
  exit 77
fi
ip netns add "$b"
ip link add "$a" type veth peer name "$b"
ip link set "$a" netns "$a"
ip link set "$b" netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev "$a"
ip -n "$b" addr add 10.77.0.2/24 dev "$b"
for ns in "$a" "$b"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$ns" up
done

# The ssh stand-in: mpirun calls it as `agent HOST COMMAND...` to start orted there.
cat > "$work/agent" <<EOF
#!/bin/sh
host=\$1; shift
case "\$host" in
  10.77.0.1) ns=$a; name=hostA ;;
  10.77.0.2) ns=$b; name=hostB ;;
  *) echo "agent: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$name; \$*"
EOF
chmod +x "$work/agent"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$work/hosts"

run() {
  ip netns exec "$a" unshare --uts sh -c 'hostname hostA; exec "$@"' sh \
    "${mpirun[@]}" --hostfile "$work/hosts" -np 2 --mca plm_rsh_agent "$work/agent" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 "$@"
}
hosts=$(run hostname | sort | tr '\n' ' ')
echo "ranks ran on: $hosts"
[[ "$hosts" == "hostA hostB " ]] || { echo "expected one rank on each of hostA and hostB"; exit 1; }
run "$@"
