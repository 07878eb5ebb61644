"""hakube.cluster.cni_bridge renders a valid CNI list and the route unit for each node.

The network itself is proven by the e2e tier (tests/e2e: CoreDNS pods reached from
every node, DNS through the Service); here every branch of the two templates."""
import json
import os

import pytest
from ansible.template import trust_as_template

from role_render import ROLES, role_templar

CIDRS = {"cp1": "10.33.0.0/24", "cp2": "10.33.1.0/24", "w1": "10.33.2.0/24"}
IPS = {"cp1": "172.28.90.11", "cp2": "172.28.90.12", "w1": "172.28.90.21"}


def render(name, host="cp1", **extra):
    variables = {"inventory_hostname": host, "hakube_pod_cidr": "10.33.0.0/17",
                 "cni_bridge_pod_cidrs": CIDRS, "cni_bridge_node_ips": IPS,
                 "groups": {"kube_control_plane": ["cp1", "cp2"]}}
    variables.update(extra)
    templar = role_templar("cni_bridge", variables)
    with open(os.path.join(ROLES, "cni_bridge", "templates", name), encoding="utf-8") as handle:
        return templar.template(trust_as_template(handle.read()))


@pytest.mark.parametrize("host", sorted(CIDRS))
def test_conflist_uses_the_nodes_own_pod_cidr(host):
    conf = json.loads(render("10-hakube-bridge.conflist.j2", host=host))
    assert conf["cniVersion"] == "1.0.0"
    bridge, portmap = conf["plugins"]
    assert bridge["type"] == "bridge" and bridge["bridge"] == "cni0"
    assert bridge["isGateway"] is True and bridge["ipMasq"] is False
    assert bridge["ipam"] == {"type": "host-local", "ranges": [[{"subnet": CIDRS[host]}]],
                              "routes": [{"dst": "0.0.0.0/0"}]}
    assert "mtu" not in bridge
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}


def test_conflist_mtu_only_when_set():
    bridge = json.loads(render("10-hakube-bridge.conflist.j2", cni_bridge_mtu=1450))["plugins"][0]
    assert bridge["mtu"] == 1450


def _lines(text, prefix):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(prefix + "=")]


@pytest.mark.parametrize("host", sorted(CIDRS))
def test_unit_routes_every_other_node_and_never_itself(host):
    unit = render("hakube-pod-routes.service.j2", host=host)
    routes = [line for line in _lines(unit, "ExecStart") if line.startswith("/sbin/ip route replace")]
    want = sorted("/sbin/ip route replace %s via %s proto 201" % (CIDRS[h], IPS[h]) for h in CIDRS if h != host)
    assert sorted(routes) == want
    # routes of nodes that were removed go with the next restart of the unit
    assert _lines(unit, "ExecStartPre") == ["-/sbin/ip route flush proto 201"]
    assert "-/sbin/ip route flush proto 201" in _lines(unit, "ExecStop")


def test_unit_masquerades_only_traffic_leaving_the_pod_network():
    unit = render("hakube-pod-routes.service.j2")
    rule = "-s 10.33.0.0/17 ! -d 10.33.0.0/17 -m comment --comment hakube-cni-bridge -j MASQUERADE"
    start = [line for line in _lines(unit, "ExecStart") if "MASQUERADE" in line]
    assert start == ["/bin/sh -c 'iptables -w -t nat -C POSTROUTING %s 2>/dev/null || "
                     "iptables -w -t nat -A POSTROUTING %s'" % (rule, rule)]
    assert "-/bin/sh -c 'iptables -w -t nat -D POSTROUTING %s'" % rule in _lines(unit, "ExecStop")


def test_unit_without_masquerade():
    unit = render("hakube-pod-routes.service.j2", cni_bridge_masquerade=False)
    assert "MASQUERADE" not in unit
