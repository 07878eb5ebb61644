"""reset.yml takes the VIP holder and a worker out of the cluster, and site.yml brings them back.

kubeadm reset stops every pod sandbox of the node, and the CRI kills a stopped
sandbox's containers without a grace period, so keepalived cannot take the VIP off the
interface on its way out; another control plane takes the VIP over, and two hosts would
then answer ARP for it. The reset role has kubeadm_reset release the VIP. After
``reset.yml --limit <holder>,<last worker>`` (workers first, then control planes): the
holder holds no VIP, exactly one other control plane does, the API answers through the
VIP, both Nodes are gone, etcd has one healthy member per remaining control plane, no
iptables chain of kube-proxy's is left on either host (IPv4 or IPv6); a second
reset.yml changes nothing.

Then the way back. The reset host has no cluster any more; if it were the init host,
``kubeadm init`` would make a second cluster behind the same VIP. kubeadm_init asks the
endpoint first and reports that another control plane runs the cluster. Limited to the
reset host (``--limit``, init host the reset host) no control plane of the play belongs
to that cluster: the control_plane stage must stop and leave the host without a
cluster. The plain site.yml, still with the reset host as ``control_plane_init_host``
(so that this path is taken whichever control plane held the VIP), lets the first
joined control plane stand in for the init host, and both hosts join again: Ready, the
holder with the control-plane label, one etcd member per control plane, all healthy, the VIP
on exactly one node.
"""
import time

ORDER = 60


def test_reset_the_vip_holder_and_join_it_again(cluster, tls):
    cluster.wait_for(lambda: cluster.vip_ready(tls), 120, what="the API through the VIP")
    holder = cluster.wait_for(cluster.single_vip_holder, 60, what="exactly one VIP holder")[0]
    others = [n for n in cluster.CONTROL_PLANES if n != holder]
    worker = cluster.WORKERS[-1]
    hosts = "%s,%s" % (holder, worker)

    for node in (holder, worker):
        assert "KUBE-SERVICES" in cluster.dexec(node, "iptables-save").stdout, "kube-proxy runs on %s" % node
    start = time.monotonic()
    reset, recap = cluster.playbook("--limit", hosts, "-e", "reset_confirm=true", path="reset.yml")
    cluster.record("reset.yml of the VIP holder and a worker, s", round(time.monotonic() - start, 1))
    assert reset.returncode == 0, reset.stdout[-8000:]
    for node in (holder, worker):
        assert recap[node]["changed"] > 0 and recap[node]["failed"] == 0, recap

    # The VIP is off the reset host (kubeadm_reset released it) and on one other.
    assert holder not in cluster.vip_holders()
    new = cluster.wait_for(cluster.single_vip_holder, 60, what="exactly one VIP holder after the reset")
    assert new[0] in others, new
    start = time.monotonic()
    cluster.wait_for(lambda: cluster.vip_ready(tls), 60, interval=0.5, what="the API through the VIP after the reset")
    cluster.record("reset of the VIP holder: API through the VIP after reset.yml ended, s",
                   round(time.monotonic() - start, 1))
    assert holder not in cluster.nodes_ready() and worker not in cluster.nodes_ready()
    assert cluster.etcd_member_names() == sorted(others)
    cluster.wait_for(lambda: cluster.etcd_members()[1].returncode == 0, 120, what="the remaining etcd members healthy")
    assert cluster.dexec(holder, "test", "-e", "/etc/kubernetes/admin.conf", check=False).returncode != 0
    assert cluster.dexec(holder, "test", "-e", "/var/lib/etcd/member", check=False).returncode != 0
    assert cluster.dexec(worker, "test", "-e", "/etc/kubernetes/kubelet.conf", check=False).returncode != 0
    # kube-proxy's rules are gone with it (IPv4 and IPv6); the host's own rules are not
    # touched (the lab nodes have none of their own, so only the chains are checked).
    for node in (holder, worker):
        for save in ("iptables-save", "ip6tables-save"):
            rules = cluster.dexec(node, save).stdout
            assert "KUBE-" not in rules and "CNI-" not in rules, (node, rules)

    again, recap = cluster.playbook("--limit", hosts, "-e", "reset_confirm=true", path="reset.yml")
    assert again.returncode == 0, again.stdout[-8000:]
    assert recap[holder]["changed"] == 0 and recap[worker]["changed"] == 0, again.stdout[-8000:]

    # The reset host as init host, alone in the play: the endpoint answers, nobody in the
    # play belongs to that cluster, so neither kubeadm init nor a join may run.
    refused, recap = cluster.playbook("--tags", "control_plane", "--limit", holder,
                                      "-e", "control_plane_init_host=" + holder)
    assert refused.returncode != 0, refused.stdout[-8000:]
    assert "is joined to it" in refused.stdout and "second cluster" in refused.stdout, refused.stdout[-8000:]
    assert cluster.dexec(holder, "test", "-e", "/etc/kubernetes/admin.conf", check=False).returncode != 0
    assert cluster.etcd_member_names() == sorted(others)

    start = time.monotonic()
    rejoin, recap = cluster.playbook("-e", "control_plane_init_host=" + holder)
    cluster.record("site.yml joining the reset VIP holder and worker again, s", round(time.monotonic() - start, 1))
    assert rejoin.returncode == 0, rejoin.stdout[-8000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap
    assert "%s holds no cluster, but %s runs the cluster" % (holder, others[0]) in rejoin.stdout, \
        rejoin.stdout[-8000:]

    cluster.wait_for(lambda: cluster.nodes_ready().get(holder), 300, what="%s Ready again" % holder)
    cluster.wait_for(lambda: cluster.nodes_ready().get(worker), 300, what="%s Ready again" % worker)
    labels = cluster.kubectl_json("get", "node", holder)["metadata"]["labels"]
    assert "node-role.kubernetes.io/control-plane" in labels, labels
    assert cluster.etcd_member_names() == sorted(cluster.CONTROL_PLANES)
    cluster.wait_for(lambda: cluster.etcd_members()[1].returncode == 0, 180, what="every etcd member healthy")
    assert len(cluster.wait_for(cluster.single_vip_holder, 60, what="exactly one VIP holder at the end")) == 1
