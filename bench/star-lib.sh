# What the star scripts (star-ip.sh, star-batch.sh) share: the names and
# addresses of host I, as bench/star.star gives them. star_host I sets
#   j     its place on its bridge (0 for the first)
#   br    its bridge, star<K> for hosts 1000K to 1000K+999
#   gw    the bridge's address, 10.<77+K>.0.1
#   h     its namespace, star-h<I>, also the name of its veth's outer end
#   addr  its address on eth0, in the bridge's /16
star_host() {
	k=$(($1 / 1000))
	j=$(($1 % 1000))
	br="star$k"
	gw="10.$((77 + k)).0.1"
	h="star-h$1"
	addr="10.$((77 + k)).$(((j + 2) / 256)).$(((j + 2) % 256))"
}
