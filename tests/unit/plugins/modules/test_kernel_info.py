# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.kernel_info: its readers against made-up /proc, /sys and
/lib/modules trees (the cases this machine's kernel does not show: a loaded module, a
modules.builtin list, a parameter that can be written), and the module as Ansible runs it
against this machine's own kernel, which has br_netfilter and overlay built in and no
IP_VS (../shared/ENVIRONMENT.md)."""

import os

from fakes.harness import run_module
from ansible_collections.hakube.cluster.plugins.modules import kernel_info


def run(args, check=False):
    return run_module('kernel_info', args, check=check)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_module_states(tmp_path):
    proc_modules = write(tmp_path / "proc" / "modules", "ip_vs 200704 0 - Live 0x0\nnf_conntrack 1 1 ip_vs, Live 0x0\n")
    builtin = write(tmp_path / "lib" / "modules.builtin",
                    "kernel/net/bridge/br_netfilter.ko\nkernel/fs/overlayfs/overlay.ko.xz\nkernel/net/x/ip_vs_rr.ko\n")
    sys_module = tmp_path / "sys" / "module"
    (sys_module / "nf_nat").mkdir(parents=True)                  # built in, has parameters
    (sys_module / "ip_vs_sh").mkdir()
    write(sys_module / "ip_vs_sh" / "initstate", "live\n")       # a module that was unloaded: not built in
    probe = write(tmp_path / "proc" / "net" / "ip_vs_wrr", "")
    names = ["ip_vs", "br_netfilter", "overlay", "ip_vs_rr", "nf_nat", "ip_vs_wrr", "ip_vs_sh", "sctp"]
    states = kernel_info.module_states(names, {"ip_vs_wrr": probe, "sctp": str(tmp_path / "nowhere")},
                                       proc_modules=proc_modules, sys_module=str(sys_module), builtin_list=builtin)
    assert states == {"ip_vs": "loaded", "br_netfilter": "builtin", "overlay": "builtin", "ip_vs_rr": "builtin",
                      "nf_nat": "builtin", "ip_vs_wrr": "builtin", "ip_vs_sh": "missing", "sctp": "missing"}
    # No modules.builtin (a container, a VM without /lib/modules): the other signs count.
    assert kernel_info.module_states(["overlay", "nf_nat"], {}, proc_modules=proc_modules, sys_module=str(sys_module),
                                     builtin_list=str(tmp_path / "none")) == {"overlay": "missing", "nf_nat": "builtin"}


def test_sysctl_states(tmp_path):
    proc_sys = tmp_path / "sys"
    write(proc_sys / "net" / "ipv4" / "ip_forward", "0\n")
    ro = write(proc_sys / "net" / "ipv4" / "ip_local_port_range", "32768\t60999\n")
    os.chmod(ro, 0o444)
    conf = write(tmp_path / "99-k8s.conf", "# comment\nnet.ipv4.ip_forward = 0\n; other comment\n"
                 "net.ipv4.ip_forward=1\n-net/ipv4/ip_local_port_range = 1024   65000\nnot a setting\n")
    states = kernel_info.sysctl_states(["net.ipv4.ip_forward", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_recycle"],
                                       conf, proc_sys=str(proc_sys))
    ro_mode = "ro" if os.geteuid() != 0 else "rw"   # root may write a 0444 file; /proc/sys read-only is a mount
    assert states == [
        {"key": "net.ipv4.ip_forward", "mode": "rw", "value": "0", "file": "1"},
        {"key": "net.ipv4.ip_local_port_range", "mode": ro_mode, "value": "32768 60999", "file": "1024 65000"},
        {"key": "net.ipv4.tcp_tw_recycle", "mode": "absent", "value": "", "file": ""},
    ]
    assert kernel_info.sysctl_states(["net.ipv4.ip_forward"], str(tmp_path / "missing.conf"),
                                     proc_sys=str(proc_sys))[0]["file"] == ""


def test_swap_state(tmp_path):
    swaps = write(tmp_path / "swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 1048572 0 -2\n")
    fstab = write(tmp_path / "fstab", "UUID=1 / ext4 defaults 0 1\nUUID=2 none swap sw 0 0\n"
                  "#UUID=3 none swap sw 0 0\n  /swapfile none swap\n\n")
    assert kernel_info.swap_state(swaps, fstab) == {
        "active": ["/dev/sda2"], "fstab": ["UUID=2 none swap sw 0 0", "  /swapfile none swap"]}
    empty = write(tmp_path / "swaps0", "Filename\tType\tSize\tUsed\tPriority\n")
    assert kernel_info.swap_state(empty, str(tmp_path / "no-fstab")) == {"active": [], "fstab": []}


def test_this_machine():
    """The real kernel here: overlay and br_netfilter built in, no IP_VS; bridge
    parameters present; check mode reads the same."""
    args = dict(modules=["overlay", "br_netfilter", "ip_vs"],
                module_probes={"br_netfilter": "/proc/sys/net/bridge", "ip_vs": "/proc/net/ip_vs"},
                sysctl=["net.bridge.bridge-nf-call-iptables", "net.ipv4.tcp_tw_recycle"])
    result = run(args)
    assert result["changed"] is False
    assert result["modules"]["overlay"] in ("loaded", "builtin")
    assert result["modules"]["br_netfilter"] in ("loaded", "builtin")
    # No /proc/modules on a kernel without loadable modules, such as this machine's.
    loaded = open("/proc/modules", encoding="utf-8").read() if os.path.exists("/proc/modules") else ""
    ipvs_here = os.path.exists("/proc/net/ip_vs") or "\nip_vs " in "\n" + loaded
    assert (result["modules"]["ip_vs"] != "missing") == ipvs_here
    bridge, recycle = result["sysctl"]
    assert bridge["key"] == "net.bridge.bridge-nf-call-iptables" and bridge["mode"] in ("rw", "ro")
    assert bridge["value"] in ("0", "1") and bridge["file"] == ""
    assert recycle == {"key": "net.ipv4.tcp_tw_recycle", "mode": "absent", "value": "", "file": ""}
    assert isinstance(result["swap"]["active"], list)
    check = run(args, check=True)
    assert {k: check[k] for k in ("modules", "sysctl", "swap")} == {k: result[k] for k in ("modules", "sysctl", "swap")}
