# -*- coding: utf-8 -*-
# Copyright (c) hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""IPv4 arithmetic for hakube.cluster, built on netaddr.

Every filter documents itself in a YAML file of the same name beside this one
(``plugins/filter/<filter>.yml``). IPv6 and dual-stack values are refused with a
message of the form ``IPv6 is not supported yet: <name>=<value>``.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

try:
    import netaddr
except ImportError:  # pragma: no cover - exercised through _require_netaddr
    netaddr = None

_DOTTED_QUAD = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_IPV4_CIDR = re.compile(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
_IP_RANGE = re.compile(r"^\s*([0-9.]+)\s*-\s*([0-9.]+)\s*$")

# A range is turned into a list only up to this many addresses (a /16).
RANGE_LIST_LIMIT = 65536


class InvalidValue(ValueError):
    """A value that is not what the caller asked for; the message says why."""


def _require_netaddr():
    if netaddr is None:
        raise AnsibleFilterError(
            "the hakube.cluster IP filters need the Python library netaddr on the controller: "
            "pip install netaddr (it is in hakube's requirements.txt)"
        )


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    return str(value).strip()


def _refuse_ipv6_or_list(text, name):
    if "," in text:
        if ":" in text:
            raise InvalidValue("IPv6 is not supported yet: %s=%s (dual-stack is not supported either; give one IPv4 value)" % (name, text))
        raise InvalidValue("%s=%s is a list: give a single value" % (name, text))
    if ":" in text:
        raise InvalidValue("IPv6 is not supported yet: %s=%s" % (name, text))


def parse_ipv4(value, name="address"):
    """Return a netaddr.IPAddress for a dotted-quad IPv4 string, or raise InvalidValue."""
    _require_netaddr()
    text = _text(value)
    if not text:
        raise InvalidValue("%s is empty: set it to an IPv4 address such as 10.31.90.1" % name)
    _refuse_ipv6_or_list(text, name)
    if not _DOTTED_QUAD.match(text):
        raise InvalidValue("%s=%s is not an IPv4 address (expected four dotted numbers such as 10.31.90.1)" % (name, text))
    try:
        return netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidValue("%s=%s is not an IPv4 address (expected four dotted numbers such as 10.31.90.1)" % (name, text))


def parse_cidr(value, name="cidr", strict=True):
    """Return a netaddr.IPNetwork for an IPv4 CIDR, or raise InvalidValue.

    With strict, host bits must be zero (10.33.0.0/17, not 10.33.0.1/17).
    """
    _require_netaddr()
    text = _text(value)
    if not text:
        raise InvalidValue("%s is empty: set it to an IPv4 CIDR such as 10.33.0.0/17" % name)
    _refuse_ipv6_or_list(text, name)
    if not _IPV4_CIDR.match(text):
        raise InvalidValue("%s=%s is not an IPv4 CIDR (expected a network such as 10.33.0.0/17)" % (name, text))
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidValue("%s=%s is not an IPv4 CIDR (expected a network such as 10.33.0.0/17)" % (name, text))
    if strict and net.ip != net.network:
        raise InvalidValue("%s=%s has host bits set: use %s/%d" % (name, text, net.network, net.prefixlen))
    return net


def parse_range(value, name="range"):
    """Return (first, last) netaddr.IPAddress for "a-b" or a CIDR, or raise InvalidValue.

    For a CIDR the first and last usable addresses are returned: the network and
    broadcast addresses are left out, except for /31 and /32 which have none.
    """
    _require_netaddr()
    text = _text(value)
    if not text:
        raise InvalidValue("%s is empty: give a range such as 10.33.192.10-10.33.192.50 or a CIDR" % name)
    _refuse_ipv6_or_list(text, name)
    match = _IP_RANGE.match(text)
    if match:
        ends = []
        for part in (match.group(1), match.group(2)):
            try:
                ends.append(parse_ipv4(part, name))
            except InvalidValue:
                raise InvalidValue("%s=%s: %s is not an IPv4 address" % (name, text, part))
        first, last = ends
        if first > last:
            raise InvalidValue("%s=%s starts after it ends: write the lower address first" % (name, text))
        return first, last
    if "/" in text:
        net = parse_cidr(text, name, strict=True)
        return _usable_bounds(net)
    raise InvalidValue("%s=%s is neither a range a-b nor an IPv4 CIDR" % (name, text))


def _usable_bounds(net):
    if net.prefixlen >= 31:
        return netaddr.IPAddress(net.first), netaddr.IPAddress(net.last)
    return netaddr.IPAddress(net.first + 1), netaddr.IPAddress(net.last - 1)


def _filter_call(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except InvalidValue as exc:
        raise AnsibleFilterError(str(exc))


# ---------------------------------------------------------------- filters


def cidr_error(value, name="value", strict=True):
    """'' when value is a valid IPv4 CIDR, else a message naming ``name``."""
    try:
        parse_cidr(value, name, strict=strict)
    except InvalidValue as exc:
        return str(exc)
    return ""


def ipv4_error(value, name="value"):
    """'' when value is a valid IPv4 address, else a message naming ``name``."""
    try:
        parse_ipv4(value, name)
    except InvalidValue as exc:
        return str(exc)
    return ""


def cidr_overlaps(value, other):
    """True when the two IPv4 CIDRs share at least one address."""
    def _run():
        a = parse_cidr(value, "first CIDR", strict=False)
        b = parse_cidr(other, "second CIDR", strict=False)
        return a.first <= b.last and b.first <= a.last
    return _filter_call(_run)


def ip_in_cidr(value, cidr):
    """True when the IPv4 address lies inside the CIDR."""
    def _run():
        ip = parse_ipv4(value, "address")
        net = parse_cidr(cidr, "CIDR", strict=False)
        return ip in net
    return _filter_call(_run)


def cidr_info(value):
    """Facts about an IPv4 CIDR: network, netmask, prefix, broadcast, first/last usable, size."""
    def _run():
        net = parse_cidr(value, "CIDR", strict=False)
        first, last = _usable_bounds(net)
        return {
            "cidr": "%s/%d" % (net.network, net.prefixlen),
            "network": str(net.network),
            "netmask": str(net.netmask),
            "prefix": net.prefixlen,
            "broadcast": str(netaddr.IPAddress(net.last)),
            "first_usable": str(first),
            "last_usable": str(last),
            "size": net.size,
        }
    return _filter_call(_run)


def ip_range_info(value):
    """first, last and size of a range "a-b" or of a CIDR's usable addresses."""
    def _run():
        first, last = parse_range(value, "range")
        return {"first": str(first), "last": str(last), "size": int(last) - int(first) + 1}
    return _filter_call(_run)


def ip_range_list(value, limit=RANGE_LIST_LIMIT):
    """Every address of a range "a-b" or of a CIDR's usable addresses, as strings."""
    def _run():
        first, last = parse_range(value, "range")
        size = int(last) - int(first) + 1
        if size > int(limit):
            raise InvalidValue("range=%s holds %d addresses, more than the limit of %d" % (_text(value), size, int(limit)))
        return [str(netaddr.IPAddress(i)) for i in range(int(first), int(last) + 1)]
    return _filter_call(_run)


def ip_range_in_cidr(value, cidr):
    """True when every address of the range (or CIDR) lies inside ``cidr``."""
    def _run():
        first, last = parse_range(value, "range")
        net = parse_cidr(cidr, "CIDR", strict=False)
        return first in net and last in net
    return _filter_call(_run)


def vrrp_router_id(vip):
    """Default VRRP virtual_router_id for a VIP: (sum of the four octets mod 255) + 1.

    The result is always in 1..255; VIPs that differ only in the last octet get
    different ids. Equivalent to ``int(vip) % 255 + 1`` because 256 = 1 (mod 255).
    """
    def _run():
        ip = parse_ipv4(vip, "hakube_apiserver_vip")
        return int(ip) % 255 + 1
    return _filter_call(_run)


def keepalived_instance(host, control_planes, vip=None, base_priority=150, step=10, router_id_prefix="hakube_cp"):
    """keepalived settings for ``host`` from its position in ``control_planes``.

    position 0 (the first control plane): state MASTER, priority base_priority;
    every later one: state BACKUP, priority base_priority - step * position (never
    below 1). router_id is router_id_prefix + (position + 1). With a vip the
    default virtual_router_id is added (see vrrp_router_id).
    """
    if isinstance(control_planes, (str, bytes)) or not hasattr(control_planes, "__iter__"):
        raise AnsibleFilterError("keepalived_instance: control_planes must be a list of host names")
    hosts = [str(h) for h in control_planes]
    if str(host) not in hosts:
        raise AnsibleFilterError("keepalived_instance: host %s is not in the control plane list %s" % (host, ", ".join(hosts)))
    position = hosts.index(str(host))
    priority = int(base_priority) - int(step) * position
    if priority < 1 or priority > 254:
        raise AnsibleFilterError(
            "keepalived_instance: host %s at position %d gets priority %d, outside 1..254: "
            "lower the step or raise the base priority" % (host, position + 1, priority)
        )
    result = {
        "position": position,
        "state": "MASTER" if position == 0 else "BACKUP",
        "priority": priority,
        "router_id": "%s%d" % (router_id_prefix, position + 1),
    }
    if vip is not None and _text(vip):
        result["virtual_router_id"] = vrrp_router_id(vip)
    return result


class FilterModule(object):
    """hakube.cluster IPv4 arithmetic filters."""

    def filters(self):
        return {
            "cidr_error": cidr_error,
            "ipv4_error": ipv4_error,
            "cidr_overlaps": cidr_overlaps,
            "ip_in_cidr": ip_in_cidr,
            "cidr_info": cidr_info,
            "ip_range_info": ip_range_info,
            "ip_range_list": ip_range_list,
            "ip_range_in_cidr": ip_range_in_cidr,
            "vrrp_router_id": vrrp_router_id,
            "keepalived_instance": keepalived_instance,
        }
