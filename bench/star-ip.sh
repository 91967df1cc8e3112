#!/bin/sh
# The star lab of bench/star.star with one ip process per step, the way the
# namespace tutorial builds its lab (make bench):
#
#     star-ip.sh N
#
# builds N hosts (a bridge star<K> with 10.<77+K>.0.1/16 for every 1000;
# per host a namespace star-h<I> with lo up, eth0 made in place as a veth
# whose other end star-h<I> is a port of the bridge, an address, up, a
# default route), prints "bench: check", has each host ping its bridge once
# (ping -c 1 -W 2), prints "bench: failures F" and "bench: down", and tears
# the lab down: the namespaces (which takes their veths along), then the
# bridges. It makes them where it runs: run it only inside a private
# network and mount namespace with a private /run (make bench does).
set -eu
. "$(dirname "$0")/star-lib.sh"

i=0
while [ "$i" -lt "$1" ]; do
	star_host "$i"
	if [ "$j" -eq 0 ]; then
		ip link add "$br" type bridge stp_state 0
		ip addr add "$gw/16" dev "$br"
		ip link set "$br" up
	fi
	ip netns add "$h"
	ip -n "$h" link set lo up
	ip link add "$h" type veth peer name eth0 netns "$h"
	ip -n "$h" addr add "$addr/16" dev eth0
	ip -n "$h" link set eth0 up
	ip link set "$h" master "$br"
	ip link set "$h" up
	ip -n "$h" route add default via "$gw"
	i=$((i + 1))
done

echo "bench: check"
failures=0
i=0
while [ "$i" -lt "$1" ]; do
	star_host "$i"
	ip netns exec "$h" ping -q -c 1 -W 2 "$gw" >/dev/null || failures=$((failures + 1))
	i=$((i + 1))
done
echo "bench: failures $failures"

echo "bench: down"
i=0
while [ "$i" -lt "$1" ]; do
	star_host "$i"
	ip netns del "$h"
	i=$((i + 1))
done
k=0
while [ "$k" -le $((($1 - 1) / 1000)) ]; do
	ip link del "star$k"
	k=$((k + 1))
done
