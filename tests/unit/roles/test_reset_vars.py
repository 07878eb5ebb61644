"""The reset role's derived values: which control plane drains and deletes, and which
hosts release the VIP (the role runs for real in tests/e2e/test_60_reset.py)."""
from role_render import role_templar, value

GROUPS = {"kube_control_plane": ["cp1", "cp2", "cp3"], "kube_node": ["w1", "w2"],
          "all": ["cp1", "cp2", "cp3", "w1", "w2"]}


def _templar(host, play_hosts, **extra):
    variables = dict(inventory_hostname=host, groups=GROUPS, ansible_play_hosts_all=play_hosts,
                     ansible_host="192.0.2.%d" % (10 + len(host)), hakube_container_runtime="containerd",
                     hakube_apiserver_lb_mode="keepalived_haproxy", hakube_apiserver_vip="192.0.2.100")
    variables.update(extra)
    return role_templar("reset", variables)


def test_a_control_plane_that_stays_does_the_kubectl_work():
    assert value(_templar("cp1", ["cp1"], ansible_limit="cp1"), "__reset_kubectl_host").strip() == "cp2"
    assert value(_templar("cp2", ["cp1", "cp2"], ansible_limit="cp1,cp2"), "__reset_kubectl_host").strip() == "cp3"
    assert value(_templar("w1", ["w1", "w2"], ansible_limit="kube_node"), "__reset_kubectl_host").strip() == "cp1"


def test_no_control_plane_stays_when_all_are_reset():
    assert value(_templar("cp3", ["cp1", "cp2", "cp3"], ansible_limit="cp1,cp2,cp3"),
                 "__reset_kubectl_host").strip() == ""
    assert value(_templar("cp3", ["cp1", "cp2", "cp3"]), "__reset_kubectl_host").strip() == ""


def test_workers_are_not_drained_from_a_control_plane_the_run_resets_later():
    """playbooks/reset.yml: the workers' play comes first, the control planes' play
    second; the control planes of the run are not in the workers' play."""
    assert value(_templar("w1", ["w1", "w2"]), "__reset_kubectl_host").strip() == ""
    assert value(_templar("w1", ["w1"], ansible_limit="w1,cp1"), "__reset_kubectl_host").strip() == "cp2"
    assert value(_templar("w1", ["w1"], ansible_limit="all:!cp2"), "__reset_kubectl_host").strip() == "cp2"


def test_only_control_planes_with_keepalived_release_the_vip():
    assert value(_templar("cp1", ["cp1"]), "__reset_release_addresses") == ["192.0.2.100"]
    assert value(_templar("w1", ["w1"]), "__reset_release_addresses") == []
    assert value(_templar("cp1", ["cp1"], hakube_apiserver_lb_mode="haproxy_local"), "__reset_release_addresses") == []


def test_etcd_peer_url_brackets_ipv6():
    assert value(_templar("cp1", ["cp1"]), "__reset_etcd_peer_url").strip() == "https://192.0.2.13:2380"
    assert value(_templar("cp1", ["cp1"], hakube_node_ip="fd00::11"), "__reset_etcd_peer_url").strip() == "https://[fd00::11]:2380"
