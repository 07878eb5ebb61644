"""Preflight phase 1 on invalid inventories: each must fail with its exact message,
report every problem in one message, and never contact a host."""
import os
import subprocess

import pytest

from preflight_helpers import ANSIBLE_PLAYBOOK, MASTERS, PLAYBOOK, TOP, WORKERS, make_inventory

HEADER = ("hakube preflight (inventory) found %d problem(s); fix them, or skip a check by "
          "adding its id (in brackets) to preflight_skip_checks:")

M1, M2, M3 = MASTERS
W4, W5, W6 = WORKERS


def test_sample_topology_passes(run_phase1):
    result = run_phase1(make_inventory())
    assert result.rc == 0, result.proc.stdout
    assert result.failure is None
    assert result.stats["localhost"]["failures"] == 0


def test_sample_inventory_passes(tmp_path):
    """The shipped inventories/sample (its group_vars/all is read through hostvars)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_CACHE_PLUGIN_CONNECTION=str(tmp_path / "facts"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([ANSIBLE_PLAYBOOK, PLAYBOOK, "--tags", "preflight", "-i", "inventories/sample/hosts.yml"],
                          cwd=TOP, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 control plane(s), 3 worker(s), no problems found" in proc.stdout
    assert "UNREACHABLE" not in proc.stdout
    assert "changed=0" in proc.stdout
    assert "k8s-calico-master" not in proc.stdout.split("PLAY RECAP")[1]


def test_settings_in_all_vars_pass(run_phase1):
    inv = make_inventory()
    inv["all"]["vars"] = inv["all"]["children"]["k8s_cluster"].pop("vars")
    result = run_phase1(inv)
    assert result.rc == 0, result.proc.stdout


# (inventory, expected error lines) -- each expected line must appear exactly.
CASES = {
    "missing_control_plane_group": (
        {"all": {"children": {"kube_node": {"hosts": {W4: {"ansible_host": "10.31.90.4"}}},
                              "k8s_cluster": {"children": {"kube_node": None}}}}},
        ["[groups] group kube_control_plane is missing from the inventory: define kube_control_plane, kube_node and "
         "k8s_cluster (children: kube_control_plane, kube_node) as in inventories/sample/hosts.yml"],
    ),
    "empty_control_plane_group": (
        {"all": {"children": {"kube_control_plane": {"hosts": {}},
                              "kube_node": {"hosts": {W4: {"ansible_host": "10.31.90.4"}}},
                              "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}}}}},
        ["[groups] group kube_control_plane has no hosts: put at least one host in it (see inventories/sample/hosts.yml)"],
    ),
    "missing_k8s_cluster_group": (
        {"all": {"children": {"kube_control_plane": {"hosts": {M1: {"ansible_host": "10.31.90.1"}}},
                              "kube_node": {"hosts": {W4: {"ansible_host": "10.31.90.4"}}}}}},
        ["[groups] group k8s_cluster is missing from the inventory: define kube_control_plane, kube_node and "
         "k8s_cluster (children: kube_control_plane, kube_node) as in inventories/sample/hosts.yml"],
    ),
    "host_outside_k8s_cluster": (
        {"all": {"children": {"kube_control_plane": {"hosts": {M1: {"ansible_host": "10.31.90.1"}}},
                              "kube_node": {"hosts": {W4: {"ansible_host": "10.31.90.4"}}},
                              "k8s_cluster": {"children": {"kube_control_plane": None}}}}},
        ["[groups] host %s is in kube_control_plane or kube_node but not in k8s_cluster: "
         "make both groups children of k8s_cluster" % W4],
    ),
    "even_control_planes": (
        make_inventory(masters=[M1, M2]),
        ["[control_plane_count] kube_control_plane has 2 hosts: stacked etcd needs an odd number (1, 3, 5, ...) "
         "to keep quorum; add or remove a control plane"],
    ),
    "single_control_plane_with_vip": (
        make_inventory(masters=[M1]),
        ["[control_plane_count] kube_control_plane has 1 host but hakube_apiserver_lb_mode=keepalived_haproxy: "
         "a VIP needs at least 3 control planes; add two control planes, or set hakube_apiserver_lb_mode: none "
         "for a single control plane"],
    ),
    "lb_mode_none_with_three": (
        make_inventory(cluster_vars={"hakube_apiserver_lb_mode": "none"}),
        ["[control_plane_count] hakube_apiserver_lb_mode=none allows a single control plane, but kube_control_plane "
         "has 3 hosts: set hakube_apiserver_lb_mode to keepalived_haproxy, haproxy_local or external"],
    ),
    "no_workers": (
        make_inventory(workers=[]),
        ["[workers] group kube_node has no hosts: add worker hosts, or skip this check "
         "(preflight_skip_checks: [workers]) to run workloads on the control planes"],
    ),
    "uppercase_hostname": (
        make_inventory(workers={"Worker_4": {"ansible_host": "10.31.90.4"}, W5: None, W6: None}),
        ["[hostnames] host Worker_4: the inventory name becomes the hostname and the Kubernetes node name; "
         "use lowercase letters, digits, - and . only (RFC 1123), e.g. worker-4"],
    ),
    "address_as_hostname": (
        make_inventory(workers={"10.31.90.4": {}, W5: None, W6: None}),
        ["[hostnames] host 10.31.90.4: the inventory name becomes the hostname and the Kubernetes node name, "
         "so it cannot be an address; name the host (e.g. k8s-node-10-31-90-4) and set ansible_host: 10.31.90.4"],
    ),
    "duplicate_short_hostname": (
        make_inventory(workers={"node4.a.example": {"ansible_host": "10.31.90.4"},
                                "node4.b.example": {"ansible_host": "10.31.90.5"}, W6: None}),
        ["[hostnames] hosts node4.a.example, node4.b.example share the short hostname node4: "
         "hostnames must be unique before the first dot; rename one"],
    ),
    "duplicate_node_ip": (
        make_inventory(host_vars={W5: {"ansible_host": "10.31.90.4"}}),
        ["[unique_ips] hosts %s, %s share the node address 10.31.90.4: every host needs its own "
         "hakube_node_ip (or ansible_host)" % (W4, W5)],
    ),
    "node_address_is_a_name": (
        make_inventory(host_vars={W6: {"ansible_host": "worker6.example.com"}}),
        ["[network] host %s: node address worker6.example.com is not an IPv4 address: set hakube_node_ip "
         "(or ansible_host) to the host's IPv4 address" % W6],
    ),
    "node_ip_outside_node_cidr": (
        make_inventory(host_vars={W6: {"hakube_node_ip": "10.32.0.6"}}),
        ["[network] host %s: node address 10.32.0.6 is outside hakube_node_cidr=10.31.0.0/16: fix "
         "hakube_node_ip (or ansible_host) or hakube_node_cidr" % W6],
    ),
    "node_ip_ipv6": (
        make_inventory(host_vars={W6: {"hakube_node_ip": "fd00::6"}}),
        ["[network] host %s: IPv6 is not supported yet: hakube_node_ip=fd00::6" % W6],
    ),
    "version_with_v": (
        make_inventory(cluster_vars={"hakube_kubernetes_version": "v1.36.3"}),
        ['[kubernetes_version] hakube_kubernetes_version=v1.36.3 is not a version X.Y.Z (write it quoted and '
         'without the leading v, e.g. "1.36.3")'],
    ),
    "version_unsupported": (
        make_inventory(cluster_vars={"hakube_kubernetes_version": "1.30.4"}),
        ["[kubernetes_version] hakube_kubernetes_version=1.30.4 is not supported: hakube supports the minors "
         "1.35, 1.36, 1.37"],
    ),
    "docker_without_cri_dockerd": (
        make_inventory(cluster_vars={"hakube_container_runtime": "docker",
                                     "container_runtime_cri_dockerd_enabled": False}),
        ["[container_runtime] hakube_container_runtime=docker without cri-dockerd "
         "(container_runtime_cri_dockerd_enabled=false): Kubernetes 1.24 and later have no dockershim; "
         "enable cri-dockerd or use containerd"],
    ),
    "pod_overlaps_service": (
        make_inventory(cluster_vars={"hakube_pod_cidr": "10.33.0.0/16"}),
        ["[network] hakube_pod_cidr=10.33.0.0/16 overlaps hakube_service_cidr=10.33.128.0/18: the node, pod, "
         "service and LoadBalancer ranges must not share addresses",
         "[network] hakube_pod_cidr=10.33.0.0/16 overlaps hakube_loadbalancer_cidr=10.33.192.0/18: the node, pod, "
         "service and LoadBalancer ranges must not share addresses"],
    ),
    "lb_overlaps_node": (
        make_inventory(cluster_vars={"hakube_loadbalancer_cidr": "10.31.192.0/18"}),
        ["[network] hakube_node_cidr=10.31.0.0/16 overlaps hakube_loadbalancer_cidr=10.31.192.0/18: the node, pod, "
         "service and LoadBalancer ranges must not share addresses"],
    ),
    "cidr_bad_prefix": (
        make_inventory(cluster_vars={"hakube_service_cidr": "10.33.128.0/33"}),
        ["[network] hakube_service_cidr=10.33.128.0/33 is not an IPv4 CIDR (expected a network such as 10.33.0.0/17)"],
    ),
    "cidr_host_bits": (
        make_inventory(cluster_vars={"hakube_pod_cidr": "10.33.0.1/17"}),
        ["[network] hakube_pod_cidr=10.33.0.1/17 has host bits set: use 10.33.0.0/17"],
    ),
    "pod_cidr_ipv6": (
        make_inventory(cluster_vars={"hakube_pod_cidr": "fd00:33::/56"}),
        ["[network] IPv6 is not supported yet: hakube_pod_cidr=fd00:33::/56"],
    ),
    "service_cidr_dual_stack": (
        make_inventory(cluster_vars={"hakube_service_cidr": "10.33.128.0/18,fd00:128::/112"}),
        ["[network] IPv6 is not supported yet: hakube_service_cidr=10.33.128.0/18,fd00:128::/112 (dual-stack is "
         "not supported either; give one IPv4 value)"],
    ),
    "vip_outside_node_cidr": (
        make_inventory(cluster_vars={"hakube_apiserver_vip": "10.32.90.0"}),
        ["[vip] hakube_apiserver_vip=10.32.90.0 is outside hakube_node_cidr=10.31.0.0/16: keepalived can only "
         "hold an address of the node network"],
    ),
    "vip_is_a_node": (
        make_inventory(cluster_vars={"hakube_apiserver_vip": "10.31.90.2"}),
        ["[vip] hakube_apiserver_vip=10.31.90.2 is the node address of %s: the VIP must be a free address that "
         "no host owns" % M2],
    ),
    "vip_is_network_address": (
        make_inventory(cluster_vars={"hakube_apiserver_vip": "10.31.0.0"}),
        ["[vip] hakube_apiserver_vip=10.31.0.0 is the network address of hakube_node_cidr=10.31.0.0/16: "
         "pick a usable address"],
    ),
    "external_vip_in_service_range": (
        make_inventory(cluster_vars={"hakube_apiserver_lb_mode": "external", "hakube_apiserver_vip": "10.33.128.1"}),
        ["[vip] hakube_apiserver_vip=10.33.128.1 lies inside hakube_service_cidr=10.33.128.0/18: pick an address "
         "outside the pod, service and LoadBalancer ranges"],
    ),
    "vip_missing": (
        make_inventory(cluster_vars={"hakube_apiserver_vip": ""}),
        ["[vip] hakube_apiserver_vip is empty: set it to an IPv4 address such as 10.31.90.1 "
         "(hakube_apiserver_lb_mode=keepalived_haproxy needs one)"],
    ),
    "as_trans": (
        make_inventory(cluster_vars={"calico_bgp_as_number": 23456}),
        ["[bgp] calico_bgp_as_number=23456 is AS_TRANS (RFC 6793), which no BGP speaker may use as its own: "
         "pick another AS, e.g. 64512"],
    ),
    "as_zero": (
        make_inventory(cluster_vars={"calico_bgp_as_number": 0}),
        ["[bgp] calico_bgp_as_number=0 is outside the AS number range 1-4294967295: use e.g. a private AS "
         "64512-65534"],
    ),
    "peer_inside_pod_range": (
        make_inventory(cluster_vars={"calico_bgp_as_number": 64512, "calico_bgp_peers": [
            {"name": "tor-1", "peerIP": "10.33.1.1", "asNumber": 64513}]}),
        ["[bgp] calico_bgp_peers[0] (tor-1).peerIP=10.33.1.1 lies inside hakube_pod_cidr=10.33.0.0/17: a BGP "
         "peer must be a router outside the cluster's pod, service and LoadBalancer ranges"],
    ),
    "peer_ipv6_and_bad_as": (
        make_inventory(cluster_vars={"calico_bgp_as_number": 64512, "calico_bgp_peers": [
            {"name": "tor-2", "peer_ip": "fd00::1", "as_number": 4294967296}]}),
        ["[bgp] IPv6 is not supported yet: calico_bgp_peers[0] (tor-2).peer_ip=fd00::1",
         "[bgp] calico_bgp_peers[0] (tor-2).as_number=4294967296 is outside the AS number range 1-4294967295: "
         "use e.g. a private AS 64512-65534"],
    ),
    "purelb_pool_outside_subnet": (
        make_inventory(cluster_vars={"purelb_service_groups": [{"name": "bgp-ippool", "remote": {"v4pool": {
            "subnet": "{{ hakube_loadbalancer_cidr }}", "pool": "10.33.192.0-10.34.0.10", "aggregation": "/32"}}}]}),
        ["[purelb] purelb_service_groups[0] (bgp-ippool).remote.v4pool.pool=10.33.192.0-10.34.0.10 is not inside its "
         "subnet 10.33.192.0/18: PureLB only allocates from the subnet; fix the pool or the subnet",
         "[purelb] purelb_service_groups[0] (bgp-ippool).remote.v4pool.pool=10.33.192.0-10.34.0.10 is not inside "
         "hakube_loadbalancer_cidr=10.33.192.0/18, the range Calico advertises for LoadBalancer Services"],
    ),
    "vrrp_router_id_out_of_range": (
        make_inventory(cluster_vars={"apiserver_lb_keepalived_virtual_router_id": 300}),
        ["[vrrp] apiserver_lb_keepalived_virtual_router_id=300 is outside 1-255: pick a VRRP router id no other VRRP group "
         "on the node network uses"],
    ),
    "keepalived_priorities_below_one": (
        make_inventory(cluster_vars={"apiserver_lb_keepalived_priority_base": 100,
                                     "apiserver_lb_keepalived_priority_step": 60}),
        ["[vrrp] apiserver_lb_keepalived_priority_base=100 and apiserver_lb_keepalived_priority_step=60 give the "
         "control planes priorities 100 down to -20: keepalived priorities are 1-254; lower the step or the base"],
    ),
    "lb_port_equals_apiserver_port": (
        make_inventory(cluster_vars={"hakube_apiserver_lb_port": 6443}),
        ["[lb_port] hakube_apiserver_lb_port and hakube_apiserver_port are both 6443: haproxy and kube-apiserver "
         "would share the port on the same hosts; set hakube_apiserver_lb_port to another port, e.g. 8443"],
    ),
    "bad_choice_in_cluster_group": (
        make_inventory(cluster_vars={"hakube_kube_proxy_mode": "ipvsx"}),
        ["[argument_spec] value of hakube_kube_proxy_mode must be one of: ipvs, iptables, nftables, got: ipvsx"],
    ),
    "host_var_overrides_cluster_setting": (
        make_inventory(host_vars={W6: {"hakube_service_cidr": "10.34.0.0/18"}}),
        ["[consistent_settings] hakube_service_cidr differs between hosts (10.33.128.0/18 on %s, %s, %s, %s, %s; "
         "10.34.0.0/18 on %s): cluster-wide settings belong in group_vars/all or group_vars/k8s_cluster, "
         "not in host_vars" % (M1, M2, M3, W4, W5, W6)],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_inventory(run_phase1, case):
    inventory, expected = CASES[case]
    result = run_phase1(inventory)
    assert result.rc != 0
    assert result.failure is not None, result.proc.stdout
    for line in expected:
        assert line in result.errors, "\n".join(result.errors)
    if not result.failure.startswith("hakube preflight (inventory) cannot go on"):
        assert result.failure.startswith(HEADER % len(result.errors))
        assert len(result.errors) == len(expected), "\n".join(result.errors)


def test_every_problem_reported_together(run_phase1):
    inv = make_inventory(masters=[M1, M2], cluster_vars={
        "hakube_kubernetes_version": "1.20.0",
        "hakube_pod_cidr": "10.33.0.0/16",
        "hakube_apiserver_vip": "10.31.90.1",
        "calico_bgp_as_number": 23456,
    })
    result = run_phase1(inv)
    assert result.rc != 0
    checks = sorted(set(line.split("]")[0] + "]" for line in result.errors))
    assert checks == ["[bgp]", "[control_plane_count]", "[kubernetes_version]", "[network]", "[vip]"]
    assert result.failure.startswith(HEADER % 6)


def test_skip_checks(run_phase1):
    inv = make_inventory(workers=[], cluster_vars={"preflight_skip_checks": ["workers"]})
    result = run_phase1(inv)
    assert result.rc == 0, result.proc.stdout


def test_reserved_as_number_warns(run_phase1):
    result = run_phase1(make_inventory(cluster_vars={"calico_bgp_as_number": 65535}))
    assert result.rc == 0, result.proc.stdout
    assert result.warnings_shown == [
        "[bgp] calico_bgp_as_number=65535 is reserved (RFC 7300): prefer a private AS 64512-65534 or "
        "4200000000-4294967294"]


def test_bad_type_seen_by_localhost(run_phase1):
    """A wrong type in all.vars is caught by the role's own argument validation."""
    result = run_phase1(make_inventory(all_vars={"hakube_apiserver_lb_port": "eighty"}))
    assert result.rc != 0
    assert "hakube_apiserver_lb_port" in result.failure
