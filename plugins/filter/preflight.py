# -*- coding: utf-8 -*-
# Copyright (c) hakube maintainers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Checks behind the hakube.cluster.preflight role, kept in Python so that they can
be unit-tested without hosts. Each filter documents itself in a YAML file of the same
name beside this one (``plugins/filter/<filter>.yml``).
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.hakube.cluster.plugins.filter.ipmath import (
    InvalidValue,
    parse_cidr,
    parse_ipv4,
    parse_range,
    _text,
)

# The four ranges a cluster uses; the LoadBalancer range is optional.
CIDR_VARS = (
    ("hakube_node_cidr", True),
    ("hakube_pod_cidr", True),
    ("hakube_service_cidr", True),
    ("hakube_loadbalancer_cidr", False),
)
# Ranges a VIP or a BGP peer must stay out of (the node network is allowed for both).
CLUSTER_RANGES = ("hakube_pod_cidr", "hakube_service_cidr", "hakube_loadbalancer_cidr")

AS_MAX = 4294967295
AS_TRANS = 23456
# Reserved by RFC 7300 (last AS of each size) and for documentation (RFC 5398).
AS_RESERVED_WARN = (
    (65535, 65535, "reserved (RFC 7300)"),
    (AS_MAX, AS_MAX, "reserved (RFC 7300)"),
    (64496, 64511, "reserved for documentation (RFC 5398)"),
    (65536, 65551, "reserved for documentation (RFC 5398)"),
)

_SS_PROCESS = re.compile(r'\("([^"]*)",pid=(\d+)')
_EMPTY_MARKERS = ("", "none", "na", "n/a", "not specified", "not settable", "default string", "to be filled by o.e.m.")


def _as_number_problems(value, name, errors, warnings):
    text = _text(value)
    if isinstance(value, bool) or not re.match(r"^\d+$", text):
        errors.append("%s=%s is not an AS number: use a whole number from 1 to %d, e.g. a private AS 64512-65534" % (name, text, AS_MAX))
        return
    number = int(text)
    if number < 1 or number > AS_MAX:
        errors.append("%s=%d is outside the AS number range 1-%d: use e.g. a private AS 64512-65534" % (name, number, AS_MAX))
    elif number == AS_TRANS:
        errors.append("%s=%d is AS_TRANS (RFC 6793), which no BGP speaker may use as its own: pick another AS, e.g. 64512" % (name, number))
    else:
        for low, high, why in AS_RESERVED_WARN:
            if low <= number <= high:
                warnings.append("%s=%d is %s: prefer a private AS 64512-65534 or 4200000000-4294967294" % (name, number, why))


def network_problems(settings, node_ips=None, skip=None):
    """Check the cluster's addresses; return {'errors': [...], 'warnings': [...]}.

    ``settings`` maps variable names (hakube_node_cidr, hakube_pod_cidr,
    hakube_service_cidr, hakube_loadbalancer_cidr, hakube_apiserver_lb_mode,
    hakube_apiserver_vip, calico_bgp_enabled, calico_bgp_as_number,
    calico_bgp_peers) to values;
    ``node_ips`` maps each cluster host to its node address. Every message starts
    with the id of its check in brackets: [network], [unique_ips], [vip], [bgp] or
    [purelb]; the ids listed in ``skip`` are left out. ``purelb_service_groups``
    (purelb role) is checked too when given: each pool inside its subnet, remote pools
    inside hakube_loadbalancer_cidr, no pool over the pod, service (remote: node)
    networks, node addresses or the VIP.
    """
    if not isinstance(settings, dict):
        raise AnsibleFilterError("network_problems: expected a dict of settings, got %s" % type(settings).__name__)
    node_ips = node_ips or {}
    if not isinstance(node_ips, dict):
        raise AnsibleFilterError("network_problems: node_ips must be a dict of host name to address")
    skip = set(skip or [])
    errors = _Tagged("network")
    warnings = _Tagged("bgp")

    nets = {}
    for name, required in CIDR_VARS:
        value = settings.get(name)
        if not required and not _text(value):
            continue
        try:
            nets[name] = parse_cidr(value, name)
        except InvalidValue as exc:
            errors.append(str(exc))

    names = [n for n, _required in CIDR_VARS if n in nets]
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            a, b = nets[first], nets[second]
            if a.first <= b.last and b.first <= a.last:
                errors.append("%s=%s overlaps %s=%s: the node, pod, service and LoadBalancer ranges must not share addresses"
                              % (first, a, second, b))

    node_net = nets.get("hakube_node_cidr")
    addresses = {}
    for host in sorted(node_ips):
        try:
            ip = parse_ipv4(node_ips[host], "hakube_node_ip")
        except InvalidValue as exc:
            if str(exc).startswith("IPv6"):
                errors.append("host %s: %s" % (host, exc))
            else:
                errors.append("host %s: node address %s is not an IPv4 address: set hakube_node_ip (or ansible_host) to the host's IPv4 address"
                              % (host, _text(node_ips[host]) or "(empty)"))
            continue
        addresses.setdefault(str(ip), []).append(host)
        if node_net is not None and ip not in node_net:
            errors.append("host %s: node address %s is outside hakube_node_cidr=%s: fix hakube_node_ip (or ansible_host) or hakube_node_cidr"
                          % (host, ip, node_net))
    for ip in sorted(addresses):
        if len(addresses[ip]) > 1:
            errors.append_to("unique_ips",
                             "hosts %s share the node address %s: every host needs its own hakube_node_ip (or ansible_host)"
                             % (", ".join(addresses[ip]), ip))

    mode = _text(settings.get("hakube_apiserver_lb_mode")) or "keepalived_haproxy"
    errors.check = "vip"
    if mode in ("keepalived_haproxy", "external"):
        _vip_problems(settings.get("hakube_apiserver_vip"), mode, nets, addresses, errors)

    errors.check = "purelb"
    _purelb_problems(settings.get("purelb_service_groups"), nets, addresses, settings.get("hakube_apiserver_vip"), errors)

    errors.check = "bgp"
    if settings.get("calico_bgp_enabled") is False or _text(settings.get("calico_bgp_enabled")).lower() in ("false", "no", "0"):
        return {"errors": errors.render(skip), "warnings": warnings.render(skip)}
    as_number = settings.get("calico_bgp_as_number")
    if as_number is not None and _text(as_number):
        _as_number_problems(as_number, "calico_bgp_as_number", errors, warnings)
    _peer_problems(settings.get("calico_bgp_peers"), nets, errors, warnings)
    return {"errors": errors.render(skip), "warnings": warnings.render(skip)}


class _Tagged(object):
    """Collects (check id, message) pairs; append() uses the current check id."""

    def __init__(self, check):
        self.check = check
        self.items = []

    def append(self, message):
        self.items.append((self.check, message))

    def append_to(self, check, message):
        self.items.append((check, message))

    def render(self, skip):
        return ["[%s] %s" % (check, message) for check, message in self.items if check not in skip]


def _vip_problems(value, mode, nets, addresses, errors):
    name = "hakube_apiserver_vip"
    try:
        vip = parse_ipv4(value, name)
    except InvalidValue as exc:
        errors.append("%s (hakube_apiserver_lb_mode=%s needs one)" % (exc, mode))
        return
    node_net = nets.get("hakube_node_cidr")
    if mode == "keepalived_haproxy" and node_net is not None:
        if vip not in node_net:
            errors.append("%s=%s is outside hakube_node_cidr=%s: keepalived can only hold an address of the node network"
                          % (name, vip, node_net))
        elif node_net.prefixlen < 31 and int(vip) in (node_net.first, node_net.last):
            errors.append("%s=%s is the %s address of hakube_node_cidr=%s: pick a usable address"
                          % (name, vip, "network" if int(vip) == node_net.first else "broadcast", node_net))
    if str(vip) in addresses:
        errors.append("%s=%s is the node address of %s: the VIP must be a free address that no host owns"
                      % (name, vip, ", ".join(addresses[str(vip)])))
    for other in CLUSTER_RANGES:
        if other in nets and vip in nets[other]:
            errors.append("%s=%s lies inside %s=%s: pick an address outside the pod, service and LoadBalancer ranges"
                          % (name, vip, other, nets[other]))


def _purelb_problems(groups, nets, addresses, vip, errors):
    """PureLB ServiceGroups as the purelb role lists them: {name, local|remote: {v4pool: {subnet, pool}}}."""
    name = "purelb_service_groups"
    if groups is None or groups == "":
        return
    if not is_sequence(groups) or isinstance(groups, dict):
        errors.append("%s must be a list of service groups ({name, local or remote: {v4pool: {subnet, pool}}}), not %s"
                      % (name, type(groups).__name__))
        return
    for index, group in enumerate(groups):
        label = "%s[%d]" % (name, index)
        if not isinstance(group, dict):
            errors.append("%s must be a dict with name and local or remote" % label)
            continue
        if group.get("name"):
            label = "%s (%s)" % (label, group["name"])
        for kind in ("local", "remote"):
            spec = group.get(kind)
            if not isinstance(spec, dict):
                continue
            if spec.get("v6pool") or spec.get("v6pools"):
                errors.append("IPv6 is not supported yet: %s.%s.v6pool" % (label, kind))
            pools = spec.get("v4pools") or ([spec["v4pool"]] if spec.get("v4pool") else [])
            for pool_index, pool in enumerate(pools if is_sequence(pools) else [pools]):
                where = "%s.%s.%s" % (label, kind, "v4pool" if "v4pool" in spec else "v4pools[%d]" % pool_index)
                _purelb_pool_problems(pool, where, kind, nets, addresses, vip, errors)


def _purelb_pool_problems(pool, where, kind, nets, addresses, vip, errors):
    if not isinstance(pool, dict):
        errors.append("%s must be a dict with subnet and pool" % where)
        return
    try:
        subnet = parse_cidr(pool.get("subnet"), "%s.subnet" % where)
        first, last = parse_range(pool.get("pool"), "%s.pool" % where)
    except InvalidValue as exc:
        errors.append(str(exc))
        return
    text = "%s.pool=%s" % (where, _text(pool.get("pool")))
    if first not in subnet or last not in subnet:
        errors.append("%s is not inside its subnet %s: PureLB only allocates from the subnet; fix the pool or the subnet" % (text, subnet))
    lb = nets.get("hakube_loadbalancer_cidr")
    if kind == "remote" and lb is not None and (first not in lb or last not in lb):
        errors.append("%s is not inside hakube_loadbalancer_cidr=%s, the range Calico advertises for LoadBalancer Services" % (text, lb))
    for other in ("hakube_pod_cidr", "hakube_service_cidr") + (("hakube_node_cidr",) if kind == "remote" else ()):
        net = nets.get(other)
        if net is not None and int(first) <= net.last and net.first <= int(last):
            errors.append("%s overlaps %s=%s: LoadBalancer addresses must stay out of it" % (text, other, net))
    taken = dict(addresses)
    if _text(vip):
        taken.setdefault(_text(vip), []).append("the VIP hakube_apiserver_vip")
    for ip in sorted(taken):
        try:
            address = parse_ipv4(ip)
        except InvalidValue:
            continue
        if first <= address <= last:
            errors.append("%s contains %s, the address of %s: keep node addresses and the VIP out of the pool" % (text, ip, ", ".join(taken[ip])))


def _peer_problems(peers, nets, errors, warnings):
    """Calico BGPPeers as the calico role lists them: Calico's field names (peerIP,
    asNumber) or snake_case ones (peer_ip, as_number). A peer chosen by peerSelector
    (other nodes, e.g. route reflectors) has no address or AS of its own to check."""
    name = "calico_bgp_peers"
    if peers is None or peers == "":
        return
    if not is_sequence(peers) or isinstance(peers, dict):
        errors.append("%s must be a list of peers ({name, peerIP, asNumber}), not %s" % (name, type(peers).__name__))
        return
    seen = {}
    for index, peer in enumerate(peers):
        label = "%s[%d]" % (name, index)
        if not isinstance(peer, dict):
            errors.append("%s must be a dict with name, peerIP and asNumber" % label)
            continue
        if peer.get("name"):
            label = "%s (%s)" % (label, peer["name"])
        ip_key = "peerIP" if "peerIP" in peer or "peer_ip" not in peer else "peer_ip"
        as_key = "asNumber" if "asNumber" in peer or "as_number" not in peer else "as_number"
        if peer.get(ip_key) is None and peer.get("peerSelector"):
            continue
        try:
            ip = parse_ipv4(peer.get(ip_key), "%s.%s" % (label, ip_key))
        except InvalidValue as exc:
            errors.append(str(exc))
        else:
            for other in CLUSTER_RANGES:
                if other in nets and ip in nets[other]:
                    errors.append("%s.%s=%s lies inside %s=%s: a BGP peer must be a router outside the cluster's pod, service and LoadBalancer ranges"
                                  % (label, ip_key, ip, other, nets[other]))
            if str(ip) in seen:
                errors.append("%s.%s=%s repeats %s: list each peer once" % (label, ip_key, ip, seen[str(ip)]))
            else:
                seen[str(ip)] = label
        if peer.get(as_key) is None:
            errors.append("%s has no %s: give the peer's AS number" % (label, as_key))
        else:
            _as_number_problems(peer.get(as_key), "%s.%s" % (label, as_key), errors, warnings)


def _norm(value, ignore_case):
    if value is None:
        return None
    text = _text(value)
    return text.lower() if ignore_case else text


def hosts_by_value(mapping, ignore_case=False, skip_empty=True):
    """Group a {host: value} mapping by value: {value: [hosts, sorted]}."""
    if not isinstance(mapping, dict):
        raise AnsibleFilterError("hosts_by_value: expected a dict of host name to value, got %s" % type(mapping).__name__)
    groups = {}
    for host in sorted(mapping, key=str):
        value = _norm(mapping[host], ignore_case)
        if skip_empty and (value is None or value.lower() in _EMPTY_MARKERS):
            continue
        groups.setdefault(value if value is not None else "", []).append(str(host))
    return groups


def find_duplicates(mapping, ignore_case=True):
    """The values of a {host: value} mapping that more than one host has: {value: [hosts]}.

    Empty values and firmware placeholders (None, '', 'NA', 'Not Settable', ...) are ignored.
    """
    return dict((value, hosts) for value, hosts in hosts_by_value(mapping, ignore_case=ignore_case).items() if len(hosts) > 1)


def _ss_listeners(text):
    listeners = []
    for line in _text(text).splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] != "LISTEN":
            continue
        local = fields[3]
        if ":" not in local:
            continue
        address, port = local.rsplit(":", 1)
        if not port.isdigit():
            continue
        procs = [{"name": m.group(1), "pid": int(m.group(2))} for m in _SS_PROCESS.finditer(line)]
        listeners.append({"address": address, "port": int(port), "processes": procs})
    return listeners


def ss_listeners(text):
    """Parse ``ss -ltnpH`` (or ``ss -ltnp``) output into [{address, port, processes}]."""
    return _ss_listeners(text)


def port_conflicts(ss_output, wanted, host=""):
    """Messages for wanted ports that a process other than their owner already holds.

    ``wanted`` is a list of {port, owners: [process names], what, variable}. The
    process name (comm, at most 15 characters in ss output) must match an owner,
    compared on the first 15 characters. A listener whose process is unknown (ss
    run without root) counts as a conflict.
    """
    if not is_sequence(wanted) or isinstance(wanted, dict):
        raise AnsibleFilterError("port_conflicts: wanted must be a list of {port, owners, what}")
    prefix = "host %s: " % host if host else ""
    listeners = _ss_listeners(ss_output)
    messages = []
    for item in wanted:
        if not isinstance(item, dict) or "port" not in item:
            raise AnsibleFilterError("port_conflicts: each wanted item needs a port, got %r" % (item,))
        port = int(item["port"])
        owners = set(str(o)[:15] for o in (item.get("owners") or []))
        what = item.get("what") or "Kubernetes"
        intruders = []
        for listener in listeners:
            if listener["port"] != port:
                continue
            if not listener["processes"]:
                intruders.append("an unknown process on %s (run preflight as root to see which)" % listener["address"])
                continue
            for proc in listener["processes"]:
                if proc["name"][:15] not in owners:
                    intruders.append("%s (pid %d) on %s" % (proc["name"], proc["pid"], listener["address"]))
        if intruders:
            fix = "stop it"
            if item.get("variable"):
                fix += " or change %s" % item["variable"]
            messages.append("%sport %d, needed by %s, is already taken by %s: %s"
                            % (prefix, port, what, ", ".join(sorted(set(intruders))), fix))
    return messages


def interface_mac(facts, address):
    """MAC address of the interface that holds ``address`` in a host's ansible_facts ('' when none)."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError("interface_mac: expected a host's ansible_facts dict")
    wanted = _text(address)
    for name in facts.get("interfaces") or []:
        iface = facts.get(str(name).replace("-", "_").replace(".", "_")) or facts.get(str(name))
        if not isinstance(iface, dict):
            continue
        ipv4 = iface.get("ipv4") or {}
        entries = [ipv4] if isinstance(ipv4, dict) else list(ipv4)
        entries += list(iface.get("ipv4_secondaries") or [])
        if any(isinstance(e, dict) and e.get("address") == wanted for e in entries):
            return _text(iface.get("macaddress"))
    default = facts.get("default_ipv4") or {}
    if not wanted or default.get("address") == wanted:
        return _text(default.get("macaddress"))
    return ""


class FilterModule(object):
    """hakube.cluster preflight filters."""

    def filters(self):
        return {
            "network_problems": network_problems,
            "hosts_by_value": hosts_by_value,
            "find_duplicates": find_duplicates,
            "ss_listeners": ss_listeners,
            "port_conflicts": port_conflicts,
            "interface_mac": interface_mac,
        }
