"""host_prep on the EL family, rendered with EL facts (EL hosts cannot run here).

What runs for real is in molecule/default (Debian bookworm containers); these tests
render the role's variables and templates with the facts of CentOS 7 / Rocky 9 hosts
and check the task files' EL branches.
"""
import os

import pytest
from role_render import role_tasks, role_templar, trust, value

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "host_prep")


def _templar(**facts):
    variables = dict(
        ansible_os_family="RedHat",
        ansible_distribution="Rocky",
        ansible_distribution_major_version="9",
        ansible_kernel="5.14.0-427.el9.x86_64",
        ansible_virtualization_role="host",
        ansible_virtualization_type="kvm",
        inventory_hostname="m1",
        groups={"kube_control_plane": ["m1"], "kube_node": ["w1"], "k8s_cluster": ["m1", "w1"]},
        hostvars={"m1": {"ansible_host": "10.31.90.1"}, "w1": {"ansible_host": "10.31.90.4"}},
        hakube_kube_proxy_mode="ipvs",
        hakube_apiserver_lb_mode="keepalived_haproxy",
        hakube_apiserver_vip="10.31.90.0",
        hakube_apiserver_vip_hostname="k8s-calico-apiserver.tinychen.io",
        hakube_host_domain="tinychen.io",
        hakube_apiserver_port=6443,
        hakube_apiserver_lb_port=8443,
    )
    variables.update(facts)
    return role_templar("host_prep", variables)


def _tasks(name):
    return role_tasks("host_prep", name)


def test_el_packages_and_chrony():
    templar = _templar()
    packages = value(templar, "host_prep_packages")
    assert "conntrack-tools" in packages and "conntrack" not in packages
    assert {"ipset", "ipvsadm", "chrony"} <= set(packages)
    assert value(templar, "__host_prep_chrony_service") == "chronyd"
    assert value(templar, "__host_prep_chrony_servers_file") == "/etc/chrony.conf"


@pytest.mark.parametrize(
    "kernel, conntrack",
    [("3.10.0-1160.el7.x86_64", "nf_conntrack_ipv4"), ("4.19.0", "nf_conntrack"), ("5.14.0-427.el9.x86_64", "nf_conntrack")],
)
def test_ipvs_modules_follow_the_kernel(kernel, conntrack):
    modules = value(_templar(ansible_kernel=kernel), "__host_prep_required_modules")
    assert modules == ["overlay", "br_netfilter", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", conntrack]


def test_no_ipvs_modules_without_ipvs_mode():
    modules = value(_templar(hakube_kube_proxy_mode="iptables"), "__host_prep_required_modules")
    assert modules == ["overlay", "br_netfilter"]


def test_firewalld_ports_control_plane_and_worker():
    cp_ports = value(_templar(), "__host_prep_firewall_ports")
    assert {"6443/tcp", "8443/tcp", "2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp", "179/tcp"} <= set(cp_ports)
    assert value(_templar(), "__host_prep_firewall_vrrp") is True
    worker = _templar(inventory_hostname="w1")
    worker_ports = value(worker, "__host_prep_firewall_ports")
    assert "6443/tcp" not in worker_ports and "2379-2380/tcp" not in worker_ports
    assert {"10250/tcp", "30000-32767/tcp", "4789/udp"} <= set(worker_ports)
    assert value(worker, "__host_prep_firewall_vrrp") is False


def test_el_tasks_use_selinux_firewalld_dnf_and_grubby():
    main = _tasks("main.yml")
    selinux = next(t for t in main if t["name"] == "SELinux")
    assert "ansible_os_family == 'RedHat'" in selinux["when"]
    set_selinux, _selinux_mode_note = _tasks("selinux.yml")
    assert set_selinux["ansible.posix.selinux"]["state"] == "{{ host_prep_selinux_state }}"
    firewall = _tasks("firewall.yml")
    block = next(t for t in firewall if t["name"] == "Open the cluster's ports in firewalld")
    assert block["block"][0]["ansible.posix.firewalld"]["permanent"] is True
    packages = _tasks("packages.yml")
    assert any("ansible.builtin.dnf" in t and "ansible_os_family == 'RedHat'" in t["when"] for t in packages)
    kernel = _tasks("kernel_el.yml")
    install = next(t for t in kernel if "ansible.builtin.dnf" in t and "enablerepo" in t["ansible.builtin.dnf"])
    assert install["ansible.builtin.dnf"]["enablerepo"] == "elrepo-kernel"
    boot = _tasks("boot.yml")[1]["block"]
    reboot = next(t for t in boot if "ansible.builtin.reboot" in t)
    assert reboot["throttle"] == 1
    assert _tasks("boot.yml")[1]["when"] == "not __host_prep_in_container"


def test_el_release_url_and_container_detection():
    templar = _templar()
    url = value(templar, "host_prep_kernel_upgrade_el_release_url")
    assert url == "https://www.elrepo.org/elrepo-release-9.el9.elrepo.noarch.rpm"
    assert value(templar, "__host_prep_in_container") is False
    assert value(_templar(ansible_virtualization_role="guest", ansible_virtualization_type="docker"), "__host_prep_in_container") is True


def test_etc_hosts_block_renders_vip_and_hosts():
    templar = _templar()
    with open(os.path.join(ROLE, "templates", "etc_hosts_block.j2"), encoding="utf-8") as handle:
        block = templar.template(trust(handle.read()))
    lines = [line for line in block.splitlines() if line.strip()]
    assert lines == [
        "10.31.90.0 k8s-calico-apiserver k8s-calico-apiserver.tinychen.io",
        "10.31.90.1 m1 m1.tinychen.io",
        "10.31.90.4 w1 w1.tinychen.io",
    ]


def test_sysctl_set_drops_nulls():
    templar = _templar(host_prep_sysctl_extra={"vm.swappiness": None, "net.core.somaxconn": 32768})
    wanted = value(templar, "__host_prep_sysctl_wanted")
    assert "vm.swappiness" not in wanted
    assert wanted["net.core.somaxconn"] == 32768
    assert wanted["net.ipv4.tcp_tw_recycle"] == 0


@pytest.mark.parametrize("stdout, installed", [
    # As systemctl show --property=Id,LoadState,... prints it (a Rocky 9 host with firewalld).
    ("Id=firewalld.service\nLoadState=loaded\n\nId=ufw.service\nLoadState=not-found", ["firewalld.service"]),
    ("LoadState=not-found\nId=firewalld.service\n\nLoadState=loaded\nId=ufw.service\n", ["ufw.service"]),
    ("Id=firewalld.service\nLoadState=not-found\n\nId=ufw.service\nLoadState=not-found\n", []),
    ("", []),
])
def test_firewall_units_from_systemctl_show(stdout, installed):
    templar = _templar(__host_prep_unit_show={"stdout": stdout, "rc": 0})
    assert value(templar, "__host_prep_firewall_installed") == installed


SHOW = ("Id=firewalld.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n\n"
        "Id=ufw.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n\n"
        "Id={unit}\nLoadState=loaded\nActiveState={active}\nUnitFileState={enabled}\n")


@pytest.mark.parametrize("family, unit", [("RedHat", "chronyd.service"), ("Debian", "chrony.service")])
@pytest.mark.parametrize("container, active, enabled, started, stopped", [
    # A machine: chrony is started and enabled unless it is both already.
    (False, "active", "enabled", False, False),
    (False, "inactive", "enabled", True, False),
    (False, "active", "disabled", True, False),
    # A container (the clock is the host's): stopped and disabled unless it is both already.
    (True, "inactive", "disabled", False, False),
    (True, "failed", "disabled", False, False),
    (True, "active", "enabled", False, True),
    (True, "inactive", "enabled", False, True),
])
def test_chrony_is_left_alone_when_it_is_as_wanted(family, unit, container, active, enabled, started, stopped):
    """tasks/time.yml runs systemd_service for chrony only when the unit state read in
    tasks/main.yml differs from what is wanted: a rerun costs no module run for it."""
    facts = dict(ansible_os_family=family, __host_prep_unit_show={
        "stdout": SHOW.format(unit=unit, active=active, enabled=enabled)})
    if container:
        facts.update(ansible_virtualization_role="guest", ansible_virtualization_type="docker")
    templar = _templar(**facts)
    tasks = {t["name"]: t for t in role_tasks("host_prep", "time.yml")}
    for name, wanted in (("Keep chrony running", started),
                         ("Keep chrony stopped inside this container (the clock is the host's)", stopped)):
        assert all(templar.template(trust("{{ %s }}" % cond)) for cond in tasks[name]["when"]) is wanted, name


def test_fstab_swap_lines_are_commented_with_or_without_options():
    """tasks/swap.yml's pattern (Python re, as ansible.builtin.replace uses) catches every
    uncommented swap entry kernel_info reports, including one without mount options, and
    leaves comments and other file systems alone."""
    import re

    task = next(t for t in _tasks("swap.yml") if t["name"] == "Comment out swap lines in /etc/fstab")
    pattern = re.compile(task["ansible.builtin.replace"]["regexp"], re.MULTILINE)
    fstab = ("UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n  /dev/sdb2\tnone\tswap\n"
             "# /old none swap sw 0 0  # disabled by hakube.cluster\nswap.img /mnt/swap ext4 defaults 0 0\n")
    assert [m.group(1) for m in pattern.finditer(fstab)] == ["/swapfile none swap sw 0 0", "  /dev/sdb2\tnone\tswap"]
    assert task["when"] == "__host_prep_kernel_now.swap.fstab | length > 0"
