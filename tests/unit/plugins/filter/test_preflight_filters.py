"""Unit tests of plugins/filter/preflight.py (the checks behind roles/preflight)."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.hakube.cluster.plugins.filter import preflight
from ansible_collections.hakube.cluster.plugins.filter.preflight import FilterModule

SEED = {
    "hakube_node_cidr": "10.31.0.0/16",
    "hakube_pod_cidr": "10.33.0.0/17",
    "hakube_service_cidr": "10.33.128.0/18",
    "hakube_loadbalancer_cidr": "10.33.192.0/18",
    "hakube_apiserver_lb_mode": "keepalived_haproxy",
    "hakube_apiserver_vip": "10.31.90.0",
    "calico_bgp_as_number": 64517,
    "calico_bgp_peers": [
        {"name": "openwrt-peer", "peerIP": "10.31.254.253", "asNumber": 64512, "keepOriginalNextHop": True},
        {"name": "tiny-unraid-peer", "peerIP": "10.31.100.100", "asNumber": 64516},
    ],
}
NODES = dict(("n%d" % i, "10.31.90.%d" % i) for i in range(1, 7))


def problems(changes=None, nodes=None, skip=None):
    settings = dict(SEED)
    settings.update(changes or {})
    return preflight.network_problems(settings, NODES if nodes is None else nodes, skip=skip)


def test_filter_names():
    assert sorted(FilterModule().filters()) == sorted([
        "network_problems", "hosts_by_value", "find_duplicates", "ss_listeners", "port_conflicts", "interface_mac"])


def test_seed_004_is_clean():
    assert problems() == {"errors": [], "warnings": []}


def test_overlaps_all_pairs():
    result = problems({"hakube_pod_cidr": "10.0.0.0/8"}, nodes={})
    assert [e for e in result["errors"] if e.startswith("[network]")] == [
        "[network] hakube_node_cidr=10.31.0.0/16 overlaps hakube_pod_cidr=10.0.0.0/8: "
        "the node, pod, service and LoadBalancer ranges must not share addresses",
        "[network] hakube_pod_cidr=10.0.0.0/8 overlaps hakube_service_cidr=10.33.128.0/18: "
        "the node, pod, service and LoadBalancer ranges must not share addresses",
        "[network] hakube_pod_cidr=10.0.0.0/8 overlaps hakube_loadbalancer_cidr=10.33.192.0/18: "
        "the node, pod, service and LoadBalancer ranges must not share addresses",
    ]


def test_loadbalancer_optional():
    assert problems({"hakube_loadbalancer_cidr": ""})["errors"] == []
    assert problems({"hakube_loadbalancer_cidr": None})["errors"] == []


def test_required_cidr_missing():
    assert problems({"hakube_service_cidr": None})["errors"] == [
        "[network] hakube_service_cidr is empty: set it to an IPv4 CIDR such as 10.33.0.0/17"]


def test_ipv6_and_dual_stack():
    errors = problems({"hakube_pod_cidr": "fd00:10::/56", "hakube_service_cidr": "10.33.128.0/18,fd00:20::/112"})["errors"]
    assert errors == [
        "[network] IPv6 is not supported yet: hakube_pod_cidr=fd00:10::/56",
        "[network] IPv6 is not supported yet: hakube_service_cidr=10.33.128.0/18,fd00:20::/112 "
        "(dual-stack is not supported either; give one IPv4 value)",
    ]


def test_node_addresses():
    nodes = dict(NODES, n5="10.31.90.4", n6="10.40.0.6", n7="node7.example", n8="fd00::8")
    assert problems(nodes=nodes)["errors"] == [
        "[network] host n6: node address 10.40.0.6 is outside hakube_node_cidr=10.31.0.0/16: fix hakube_node_ip "
        "(or ansible_host) or hakube_node_cidr",
        "[network] host n7: node address node7.example is not an IPv4 address: set hakube_node_ip (or ansible_host) "
        "to the host's IPv4 address",
        "[network] host n8: IPv6 is not supported yet: hakube_node_ip=fd00::8",
        "[unique_ips] hosts n4, n5 share the node address 10.31.90.4: every host needs its own hakube_node_ip "
        "(or ansible_host)",
    ]


@pytest.mark.parametrize("vip,message", [
    ("10.32.0.1", "[vip] hakube_apiserver_vip=10.32.0.1 is outside hakube_node_cidr=10.31.0.0/16: keepalived can "
                  "only hold an address of the node network"),
    ("10.31.255.255", "[vip] hakube_apiserver_vip=10.31.255.255 is the broadcast address of "
                      "hakube_node_cidr=10.31.0.0/16: pick a usable address"),
    ("10.31.90.3", "[vip] hakube_apiserver_vip=10.31.90.3 is the node address of n3: the VIP must be a free "
                   "address that no host owns"),
    ("", "[vip] hakube_apiserver_vip is empty: set it to an IPv4 address such as 10.31.90.1 "
         "(hakube_apiserver_lb_mode=keepalived_haproxy needs one)"),
    ("fd00::1", "[vip] IPv6 is not supported yet: hakube_apiserver_vip=fd00::1 "
                "(hakube_apiserver_lb_mode=keepalived_haproxy needs one)"),
])
def test_vip_keepalived(vip, message):
    assert problems({"hakube_apiserver_vip": vip})["errors"] == [message]


def test_vip_external_outside_node_network_is_fine():
    assert problems({"hakube_apiserver_lb_mode": "external", "hakube_apiserver_vip": "192.168.7.7"})["errors"] == []


def test_vip_external_in_lb_range():
    assert problems({"hakube_apiserver_lb_mode": "external", "hakube_apiserver_vip": "10.33.192.5"})["errors"] == [
        "[vip] hakube_apiserver_vip=10.33.192.5 lies inside hakube_loadbalancer_cidr=10.33.192.0/18: pick an address "
        "outside the pod, service and LoadBalancer ranges"]


@pytest.mark.parametrize("mode", ["none", "haproxy_local"])
def test_vip_ignored_without_vip_modes(mode):
    assert problems({"hakube_apiserver_lb_mode": mode, "hakube_apiserver_vip": "bogus"})["errors"] == []


@pytest.mark.parametrize("value,message", [
    (0, "[bgp] calico_bgp_as_number=0 is outside the AS number range 1-4294967295: use e.g. a private AS 64512-65534"),
    (4294967296, "[bgp] calico_bgp_as_number=4294967296 is outside the AS number range 1-4294967295: use e.g. a "
                 "private AS 64512-65534"),
    (23456, "[bgp] calico_bgp_as_number=23456 is AS_TRANS (RFC 6793), which no BGP speaker may use as its own: "
            "pick another AS, e.g. 64512"),
    ("AS64512", "[bgp] calico_bgp_as_number=AS64512 is not an AS number: use a whole number from 1 to 4294967295, "
                "e.g. a private AS 64512-65534"),
    (True, "[bgp] calico_bgp_as_number=True is not an AS number: use a whole number from 1 to 4294967295, "
           "e.g. a private AS 64512-65534"),
])
def test_as_number_errors(value, message):
    assert problems({"calico_bgp_as_number": value})["errors"] == [message]


@pytest.mark.parametrize("value", [1, 64512, 65534, "64517", 4200000000, 4294967294])
def test_as_number_ok(value):
    assert problems({"calico_bgp_as_number": value}) == {"errors": [], "warnings": []}


@pytest.mark.parametrize("value,why", [
    (65535, "reserved (RFC 7300)"), (4294967295, "reserved (RFC 7300)"),
    (64500, "reserved for documentation (RFC 5398)"), (65540, "reserved for documentation (RFC 5398)")])
def test_as_number_reserved_warns(value, why):
    result = problems({"calico_bgp_as_number": value})
    assert result["errors"] == []
    assert result["warnings"] == ["[bgp] calico_bgp_as_number=%d is %s: prefer a private AS 64512-65534 or "
                                  "4200000000-4294967294" % (value, why)]


def test_peers():
    peers = [
        {"name": "in-pods", "peerIP": "10.33.0.9", "asNumber": 64512},
        {"name": "in-services", "peer_ip": "10.33.128.9", "as_number": 64512},
        {"name": "no-as", "peerIP": "10.31.254.1"},
        {"name": "dup", "peerIP": "10.31.254.1", "asNumber": 23456},
        {"peerIP": "fd00::1", "asNumber": 64512},
        {"name": "rr", "peerSelector": "has(route-reflector)"},
        "not-a-dict",
    ]
    assert problems({"calico_bgp_peers": peers})["errors"] == [
        "[bgp] calico_bgp_peers[0] (in-pods).peerIP=10.33.0.9 lies inside hakube_pod_cidr=10.33.0.0/17: a BGP peer "
        "must be a router outside the cluster's pod, service and LoadBalancer ranges",
        "[bgp] calico_bgp_peers[1] (in-services).peer_ip=10.33.128.9 lies inside hakube_service_cidr=10.33.128.0/18: "
        "a BGP peer must be a router outside the cluster's pod, service and LoadBalancer ranges",
        "[bgp] calico_bgp_peers[2] (no-as) has no asNumber: give the peer's AS number",
        "[bgp] calico_bgp_peers[3] (dup).peerIP=10.31.254.1 repeats calico_bgp_peers[2] (no-as): list each peer once",
        "[bgp] calico_bgp_peers[3] (dup).asNumber=23456 is AS_TRANS (RFC 6793), which no BGP speaker may use as its "
        "own: pick another AS, e.g. 64512",
        "[bgp] IPv6 is not supported yet: calico_bgp_peers[4].peerIP=fd00::1",
        "[bgp] calico_bgp_peers[6] must be a dict with name, peerIP and asNumber",
    ]


def test_peers_not_a_list():
    assert problems({"calico_bgp_peers": {"peerIP": "1.2.3.4"}})["errors"] == [
        "[bgp] calico_bgp_peers must be a list of peers ({name, peerIP, asNumber}), not dict"]


def test_bgp_disabled_and_skip():
    bad = {"calico_bgp_as_number": 0, "hakube_pod_cidr": "10.33.0.0/16"}
    assert all(not e.startswith("[bgp]") for e in problems(dict(bad, calico_bgp_enabled=False))["errors"])
    assert problems(bad, skip=["bgp", "network"]) == {"errors": [], "warnings": []}


def test_network_problems_bad_input():
    with pytest.raises(AnsibleFilterError, match="expected a dict"):
        preflight.network_problems(["x"])
    with pytest.raises(AnsibleFilterError, match="node_ips must be a dict"):
        preflight.network_problems({}, ["a"])


def test_find_duplicates():
    macs = {"a": "52:54:00:AA:BB:01", "b": "52:54:00:aa:bb:01", "c": "52:54:00:aa:bb:02", "d": "", "e": None}
    assert preflight.find_duplicates(macs) == {"52:54:00:aa:bb:01": ["a", "b"]}


def test_find_duplicates_ignores_placeholders():
    uuids = {"a": "NA", "b": "NA", "c": "Not Settable", "d": "not settable", "e": "4C4C4544-0001", "f": "4c4c4544-0001"}
    assert preflight.find_duplicates(uuids) == {"4c4c4544-0001": ["e", "f"]}


def test_find_duplicates_case_sensitive():
    assert preflight.find_duplicates({"a": "Node", "b": "node"}, ignore_case=False) == {}


def test_hosts_by_value():
    assert preflight.hosts_by_value({"b": "x", "a": "x", "c": "y"}) == {"x": ["a", "b"], "y": ["c"]}
    assert preflight.hosts_by_value({"a": "", "b": None}, skip_empty=False) == {"": ["a", "b"]}
    with pytest.raises(AnsibleFilterError):
        preflight.hosts_by_value(["a"])


SS = """State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN 0      4096       127.0.0.1:10257      0.0.0.0:*    users:(("kube-controller",pid=1301,fd=3))
LISTEN 0      4096       127.0.0.1:10259      0.0.0.0:*    users:(("kube-scheduler",pid=1302,fd=3))
LISTEN 0      4096      10.31.90.1:2379       0.0.0.0:*    users:(("etcd",pid=1200,fd=8))
LISTEN 0      4096       127.0.0.1:2379       0.0.0.0:*    users:(("etcd",pid=1200,fd=7))
LISTEN 0      4096      10.31.90.1:2380       0.0.0.0:*    users:(("etcd",pid=1200,fd=6))
LISTEN 0      4096         0.0.0.0:8443       0.0.0.0:*    users:(("haproxy",pid=900,fd=7),("haproxy",pid=901,fd=7))
LISTEN 0      8          10.31.90.1:179       0.0.0.0:*    users:(("bird",pid=3000,fd=7))
LISTEN 0      4096               *:10250            *:*    users:(("kubelet",pid=1000,fd=20))
LISTEN 0      4096               *:6443             *:*    users:(("kube-apiserver",pid=1250,fd=3))
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=600,fd=3))
LISTEN 0      128             [::]:22            [::]:*    users:(("sshd",pid=600,fd=4))
"""
WANTED = [
    {"port": 6443, "owners": ["kube-apiserver"], "what": "kube-apiserver", "variable": "hakube_apiserver_port"},
    {"port": 2379, "owners": ["etcd"], "what": "etcd (client)"},
    {"port": 2380, "owners": ["etcd"], "what": "etcd (peer)"},
    {"port": 10250, "owners": ["kubelet"], "what": "the kubelet"},
    {"port": 10257, "owners": ["kube-controller-manager"], "what": "kube-controller-manager"},
    {"port": 10259, "owners": ["kube-scheduler"], "what": "kube-scheduler"},
    {"port": 8443, "owners": ["haproxy"], "what": "haproxy", "variable": "hakube_apiserver_lb_port"},
    {"port": 179, "owners": ["bird", "bird6", "calico-node"], "what": "Calico BGP (bird)"},
]


def test_ss_listeners():
    listeners = preflight.ss_listeners(SS)
    assert len(listeners) == 11
    assert listeners[5] == {"address": "0.0.0.0", "port": 8443,
                            "processes": [{"name": "haproxy", "pid": 900}, {"name": "haproxy", "pid": 901}]}
    assert listeners[10]["address"] == "[::]"


def test_converged_control_plane_passes():
    assert preflight.port_conflicts(SS, WANTED, "cp1") == []


def test_fresh_host_passes():
    assert preflight.port_conflicts(SS.splitlines()[0] + "\n" + SS.splitlines()[-1], WANTED) == []


def test_port_conflicts():
    ss = (
        'LISTEN 0 511 0.0.0.0:6443 0.0.0.0:* users:(("nginx",pid=77,fd=6),("nginx",pid=78,fd=6))\n'
        'LISTEN 0 511 *:8443 *:* users:(("java",pid=90,fd=6))\n'
        'LISTEN 0 4096 127.0.0.1:2379 0.0.0.0:*\n'
    )
    assert preflight.port_conflicts(ss, WANTED, "cp1") == [
        "host cp1: port 6443, needed by kube-apiserver, is already taken by nginx (pid 77) on 0.0.0.0, nginx (pid 78) "
        "on 0.0.0.0: stop it or change hakube_apiserver_port",
        "host cp1: port 2379, needed by etcd (client), is already taken by an unknown process on 127.0.0.1 "
        "(run preflight as root to see which): stop it",
        "host cp1: port 8443, needed by haproxy, is already taken by java (pid 90) on *: stop it or change "
        "hakube_apiserver_lb_port",
    ]


def test_port_conflicts_bad_input():
    with pytest.raises(AnsibleFilterError):
        preflight.port_conflicts("", {"port": 1})
    with pytest.raises(AnsibleFilterError):
        preflight.port_conflicts("", [{"owners": []}])


FACTS = {
    "interfaces": ["lo", "eth0", "br-lan", "eth1.100"],
    "lo": {"device": "lo", "ipv4": {"address": "127.0.0.1"}},
    "eth0": {"device": "eth0", "macaddress": "52:54:00:00:00:01", "ipv4": {"address": "10.31.90.1"}},
    "br_lan": {"device": "br-lan", "macaddress": "52:54:00:00:00:02", "ipv4": {"address": "192.168.1.1"},
               "ipv4_secondaries": [{"address": "192.168.1.2"}]},
    "eth1_100": {"device": "eth1.100", "macaddress": "52:54:00:00:00:03", "ipv4": {"address": "172.16.0.1"}},
    "default_ipv4": {"address": "10.31.90.1", "macaddress": "52:54:00:00:00:01"},
}


@pytest.mark.parametrize("address,mac", [
    ("10.31.90.1", "52:54:00:00:00:01"),
    ("192.168.1.1", "52:54:00:00:00:02"),
    ("192.168.1.2", "52:54:00:00:00:02"),
    ("172.16.0.1", "52:54:00:00:00:03"),
    ("", "52:54:00:00:00:01"),
    ("10.9.9.9", ""),
])
def test_interface_mac(address, mac):
    assert preflight.interface_mac(FACTS, address) == mac


def test_interface_mac_bad_input():
    with pytest.raises(AnsibleFilterError):
        preflight.interface_mac("facts", "10.0.0.1")


def test_purelb_sample_groups_pass():
    groups = [{"name": "bgp-ippool", "remote": {"v4pool": {
        "subnet": "10.33.192.0/18", "pool": "10.33.192.0-10.33.255.254", "aggregation": "/32"}}}]
    assert problems({"purelb_service_groups": groups}) == {"errors": [], "warnings": []}


def test_purelb_problems():
    groups = [
        {"name": "outside", "remote": {"v4pool": {"subnet": "10.33.192.0/24", "pool": "10.33.192.10-10.33.193.5"}}},
        {"name": "not-lb", "remote": {"v4pool": {"subnet": "10.40.0.0/24", "pool": "10.40.0.0/25"}}},
        {"name": "local", "local": {"v4pool": {"subnet": "10.31.0.0/16", "pool": "10.31.90.0-10.31.90.1"}}},
        {"name": "v6", "remote": {"v6pool": {"subnet": "fd00::/64", "pool": "fd00::1-fd00::9"}}},
        {"name": "bad", "remote": {"v4pool": {"subnet": "10.33.192.0/18", "pool": "nope"}}},
    ]
    assert problems({"purelb_service_groups": groups})["errors"] == [
        "[purelb] purelb_service_groups[0] (outside).remote.v4pool.pool=10.33.192.10-10.33.193.5 is not inside its "
        "subnet 10.33.192.0/24: PureLB only allocates from the subnet; fix the pool or the subnet",
        "[purelb] purelb_service_groups[1] (not-lb).remote.v4pool.pool=10.40.0.0/25 is not inside "
        "hakube_loadbalancer_cidr=10.33.192.0/18, the range Calico advertises for LoadBalancer Services",
        "[purelb] purelb_service_groups[2] (local).local.v4pool.pool=10.31.90.0-10.31.90.1 contains 10.31.90.0, the "
        "address of the VIP hakube_apiserver_vip: keep node addresses and the VIP out of the pool",
        "[purelb] purelb_service_groups[2] (local).local.v4pool.pool=10.31.90.0-10.31.90.1 contains 10.31.90.1, the "
        "address of n1: keep node addresses and the VIP out of the pool",
        "[purelb] IPv6 is not supported yet: purelb_service_groups[3] (v6).remote.v6pool",
        "[purelb] purelb_service_groups[4] (bad).remote.v4pool.pool=nope is neither a range a-b nor an IPv4 CIDR",
    ]
