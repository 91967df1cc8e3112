#!/usr/bin/python3
"""The star of bench/star.star in Mininet (make bench): N hosts on one Linux
bridge, which Mininet builds in its own way (a shell per host, veths made
in the root namespace and moved, ifconfig and brctl).

    mininet_star.py N

Prints "bench: check" once the lab is up, has each host ping the bridge
once (ping -c 1 -W 2), prints "bench: failures F" and "bench: down", and
stops the lab. It makes the lab where it runs: run it only inside a
private network, mount and PID namespace with a private /run (make bench
does). Mininet's own set-up (Mininet.init, fixLimits) is skipped: it raises
host-wide sysctls (fs.file-max, kernel.pty.max, net.core.*mem_max), which
the benchmark must not change."""

import sys

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import Topo

BRIDGE_ADDR = "10.255.255.254"  # in Mininet's 10.0.0.0/8, past its hosts


class Star(Topo):
    "One bridge s1 and hosts h1..hN, each with one link to it."

    def build(self, n):
        s1 = self.addSwitch("s1")
        for i in range(n):
            self.addLink(self.addHost("h%d" % (i + 1)), s1)


def main():
    n = int(sys.argv[1])
    setLogLevel("warning")
    Mininet.inited = True  # skips fixLimits: see above
    net = Mininet(topo=Star(n=n), switch=LinuxBridge, controller=None)
    net.start()
    s1 = net.get("s1")
    s1.cmd("ip addr add %s/8 dev s1" % BRIDGE_ADDR)
    print("bench: check", flush=True)
    failures = 0
    for h in net.hosts:
        if " 1 received" not in h.cmd("ping -q -c 1 -W 2 %s" % BRIDGE_ADDR):
            failures += 1
    print("bench: failures %d" % failures, flush=True)
    print("bench: down", flush=True)
    net.stop()


if __name__ == "__main__":
    main()
