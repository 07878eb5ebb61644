"""Unit tests of plugins/filter/ipmath.py."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.hakube.cluster.plugins.filter import ipmath
from ansible_collections.hakube.cluster.plugins.filter.ipmath import FilterModule


def test_filter_names():
    assert sorted(FilterModule().filters()) == sorted([
        "cidr_error", "ipv4_error", "cidr_overlaps", "ip_in_cidr", "cidr_info", "ip_range_info",
        "ip_range_list", "ip_range_in_cidr", "vrrp_router_id", "keepalived_instance"])


@pytest.mark.parametrize("value", ["10.33.0.0/17", "10.31.0.0/16", "0.0.0.0/0", "10.0.0.1/32", " 10.33.128.0/18 "])
def test_cidr_error_valid(value):
    assert ipmath.cidr_error(value, "x") == ""


@pytest.mark.parametrize("value,message", [
    ("10.33.0.0/33", "hakube_pod_cidr=10.33.0.0/33 is not an IPv4 CIDR (expected a network such as 10.33.0.0/17)"),
    ("10.33.0.0", "hakube_pod_cidr=10.33.0.0 is not an IPv4 CIDR (expected a network such as 10.33.0.0/17)"),
    ("10/8", "hakube_pod_cidr=10/8 is not an IPv4 CIDR (expected a network such as 10.33.0.0/17)"),
    ("300.1.0.0/16", "hakube_pod_cidr=300.1.0.0/16 is not an IPv4 CIDR (expected a network such as 10.33.0.0/17)"),
    ("10.33.0.1/17", "hakube_pod_cidr=10.33.0.1/17 has host bits set: use 10.33.0.0/17"),
    ("", "hakube_pod_cidr is empty: set it to an IPv4 CIDR such as 10.33.0.0/17"),
    (None, "hakube_pod_cidr is empty: set it to an IPv4 CIDR such as 10.33.0.0/17"),
    ("fd00::/64", "IPv6 is not supported yet: hakube_pod_cidr=fd00::/64"),
    ("10.33.0.0/17,fd00::/64",
     "IPv6 is not supported yet: hakube_pod_cidr=10.33.0.0/17,fd00::/64 (dual-stack is not supported either; give one IPv4 value)"),
    ("10.33.0.0/17,10.34.0.0/17", "hakube_pod_cidr=10.33.0.0/17,10.34.0.0/17 is a list: give a single value"),
])
def test_cidr_error_invalid(value, message):
    assert ipmath.cidr_error(value, "hakube_pod_cidr") == message


def test_cidr_error_not_strict():
    assert ipmath.cidr_error("10.33.0.1/17", "x", strict=False) == ""


@pytest.mark.parametrize("value,message", [
    ("10.31.90.1", ""),
    ("10.31.90.256", "vip=10.31.90.256 is not an IPv4 address (expected four dotted numbers such as 10.31.90.1)"),
    ("010.31.90.1", "vip=010.31.90.1 is not an IPv4 address (expected four dotted numbers such as 10.31.90.1)"),
    ("host.example", "vip=host.example is not an IPv4 address (expected four dotted numbers such as 10.31.90.1)"),
    ("fe80::1", "IPv6 is not supported yet: vip=fe80::1"),
    ("", "vip is empty: set it to an IPv4 address such as 10.31.90.1"),
])
def test_ipv4_error(value, message):
    assert ipmath.ipv4_error(value, "vip") == message


@pytest.mark.parametrize("a,b,expected", [
    ("10.33.0.0/17", "10.33.128.0/18", False),
    ("10.33.0.0/16", "10.33.128.0/18", True),
    ("10.33.128.0/18", "10.33.0.0/16", True),
    ("10.33.192.0/18", "10.33.128.0/18", False),
    ("10.31.0.0/16", "10.31.90.0/24", True),
    ("10.0.0.0/8", "11.0.0.0/8", False),
])
def test_cidr_overlaps(a, b, expected):
    assert ipmath.cidr_overlaps(a, b) is expected


def test_cidr_overlaps_invalid():
    with pytest.raises(AnsibleFilterError, match="IPv6 is not supported yet: second CIDR=fd00::/8"):
        ipmath.cidr_overlaps("10.0.0.0/8", "fd00::/8")


@pytest.mark.parametrize("ip,cidr,expected", [
    ("10.31.90.0", "10.31.0.0/16", True),
    ("10.32.0.1", "10.31.0.0/16", False),
    ("10.31.255.255", "10.31.0.0/16", True),
])
def test_ip_in_cidr(ip, cidr, expected):
    assert ipmath.ip_in_cidr(ip, cidr) is expected


def test_ip_in_cidr_invalid():
    with pytest.raises(AnsibleFilterError, match="address=nope is not an IPv4 address"):
        ipmath.ip_in_cidr("nope", "10.0.0.0/8")


def test_cidr_info():
    assert ipmath.cidr_info("10.31.90.1/16") == {
        "cidr": "10.31.0.0/16", "network": "10.31.0.0", "netmask": "255.255.0.0", "prefix": 16,
        "broadcast": "10.31.255.255", "first_usable": "10.31.0.1", "last_usable": "10.31.255.254", "size": 65536}


def test_cidr_info_small():
    assert ipmath.cidr_info("10.0.0.4/31")["first_usable"] == "10.0.0.4"
    assert ipmath.cidr_info("10.0.0.4/31")["last_usable"] == "10.0.0.5"
    assert ipmath.cidr_info("10.0.0.4/32")["size"] == 1


@pytest.mark.parametrize("value,expected", [
    ("10.33.192.10-10.33.192.50", {"first": "10.33.192.10", "last": "10.33.192.50", "size": 41}),
    ("10.33.192.10 - 10.33.192.10", {"first": "10.33.192.10", "last": "10.33.192.10", "size": 1}),
    ("10.33.192.0/24", {"first": "10.33.192.1", "last": "10.33.192.254", "size": 254}),
    ("10.33.192.0/30", {"first": "10.33.192.1", "last": "10.33.192.2", "size": 2}),
])
def test_ip_range_info(value, expected):
    assert ipmath.ip_range_info(value) == expected


@pytest.mark.parametrize("value,message", [
    ("10.33.192.50-10.33.192.10", "range=10.33.192.50-10.33.192.10 starts after it ends: write the lower address first"),
    ("10.33.192.10-10.33.192.300", "range=10.33.192.10-10.33.192.300: 10.33.192.300 is not an IPv4 address"),
    ("pool", "range=pool is neither a range a-b nor an IPv4 CIDR"),
    ("fd00::1-fd00::9", "IPv6 is not supported yet: range=fd00::1-fd00::9"),
])
def test_ip_range_info_invalid(value, message):
    with pytest.raises(AnsibleFilterError) as exc:
        ipmath.ip_range_info(value)
    assert str(exc.value).startswith(message)


def test_ip_range_list():
    assert ipmath.ip_range_list("10.0.0.254-10.0.1.1") == ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]
    assert ipmath.ip_range_list("10.0.0.0/30") == ["10.0.0.1", "10.0.0.2"]


def test_ip_range_list_limit():
    with pytest.raises(AnsibleFilterError, match="range=10.0.0.0/16 holds 65534 addresses, more than the limit of 100"):
        ipmath.ip_range_list("10.0.0.0/16", limit=100)


@pytest.mark.parametrize("value,cidr,expected", [
    ("10.33.192.10-10.33.192.50", "10.33.192.0/18", True),
    ("10.33.192.10-10.34.0.1", "10.33.192.0/18", False),
    ("10.33.191.255-10.33.192.1", "10.33.192.0/18", False),
    ("10.33.200.0/24", "10.33.192.0/18", True),
    ("10.33.0.0/16", "10.33.192.0/18", False),
])
def test_ip_range_in_cidr(value, cidr, expected):
    assert ipmath.ip_range_in_cidr(value, cidr) is expected


@pytest.mark.parametrize("vip,expected", [
    ("10.31.90.0", 132),          # (10+31+90+0) % 255 + 1
    ("192.168.1.10", 117),        # (192+168+1+10) % 255 + 1 = 371 % 255 + 1
    ("0.0.0.0", 1),
    ("255.255.255.255", 1),       # 1020 % 255 = 0
    ("10.0.0.254", 10),           # 264 % 255 + 1
])
def test_vrrp_router_id(vip, expected):
    assert ipmath.vrrp_router_id(vip) == expected


def test_vrrp_router_id_range_and_distinct_last_octets():
    ids = [ipmath.vrrp_router_id("10.31.90.%d" % i) for i in range(256)]
    assert all(1 <= i <= 255 for i in ids)
    assert len(set(ids[:255])) == 255


def test_vrrp_router_id_ipv6():
    with pytest.raises(AnsibleFilterError, match="IPv6 is not supported yet: hakube_apiserver_vip=fd00::10"):
        ipmath.vrrp_router_id("fd00::10")


def test_keepalived_instance():
    cps = ["cp1", "cp2", "cp3"]
    assert ipmath.keepalived_instance("cp1", cps) == {"position": 0, "state": "MASTER", "priority": 150, "router_id": "hakube_cp1"}
    assert ipmath.keepalived_instance("cp2", cps, "10.31.90.0") == {
        "position": 1, "state": "BACKUP", "priority": 140, "router_id": "hakube_cp2", "virtual_router_id": 132}
    assert ipmath.keepalived_instance("cp3", cps, base_priority=200, step=50, router_id_prefix="lb")["priority"] == 100
    assert ipmath.keepalived_instance("cp3", cps, router_id_prefix="lb")["router_id"] == "lb3"


def test_keepalived_instance_errors():
    with pytest.raises(AnsibleFilterError, match="host w1 is not in the control plane list cp1, cp2"):
        ipmath.keepalived_instance("w1", ["cp1", "cp2"])
    with pytest.raises(AnsibleFilterError, match="outside 1..254"):
        ipmath.keepalived_instance("c", ["a", "b", "c"], base_priority=10, step=10)
    with pytest.raises(AnsibleFilterError, match="must be a list"):
        ipmath.keepalived_instance("a", "a,b")


def test_missing_netaddr(monkeypatch):
    monkeypatch.setattr(ipmath, "netaddr", None)
    with pytest.raises(AnsibleFilterError, match="need the Python library netaddr"):
        ipmath.cidr_error("10.0.0.0/8")
