#!/bin/sh
# The star lab of bench/star.star with ip -batch (make bench):
#
#     star-batch.sh N
#
# builds, checks and tears down what star-ip.sh does, with the same output,
# but in few ip processes: one batch for everything in the host's
# namespace (bridges, namespaces, veths made in place, bridge ports), then
# one `ip -n star-h<I> -batch` per host for what is inside it (a batch
# line cannot name another namespace), one batch of `netns exec ... ping`
# for the check and one for the teardown. It makes them where it runs: run
# it only inside a private network and mount namespace with a private /run
# (make bench does).
set -eu
. "$(dirname "$0")/star-lib.sh"

i=0
while [ "$i" -lt "$1" ]; do
	star_host "$i"
	if [ "$j" -eq 0 ]; then
		echo "link add $br type bridge stp_state 0"
		echo "addr add $gw/16 dev $br"
		echo "link set $br up"
	fi
	echo "netns add $h"
	echo "link add $h type veth peer name eth0 netns $h"
	echo "link set $h master $br"
	echo "link set $h up"
	i=$((i + 1))
done | ip -batch -
i=0
while [ "$i" -lt "$1" ]; do
	star_host "$i"
	printf 'link set lo up\naddr add %s/16 dev eth0\nlink set eth0 up\nroute add default via %s\n' "$addr" "$gw" | ip -n "$h" -batch -
	i=$((i + 1))
done

echo "bench: check"
# -force goes on after a failed line and reports each as "Command failed".
failures=$(
	i=0
	while [ "$i" -lt "$1" ]; do
		star_host "$i"
		echo "netns exec $h ping -q -c 1 -W 2 $gw"
		i=$((i + 1))
	done | ip -force -batch - 2>&1 >/dev/null | grep -c "Command failed" || true
)
echo "bench: failures $failures"

echo "bench: down"
i=0
while [ "$i" -lt "$1" ]; do
	echo "netns del star-h$i"
	i=$((i + 1))
done | ip -batch -
k=0
while [ "$k" -le $((($1 - 1) / 1000)) ]; do
	echo "link del star$k"
	k=$((k + 1))
done | ip -batch -
