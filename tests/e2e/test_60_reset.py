"""reset.yml takes the VIP holder out of the cluster, and site.yml brings it back.

kubeadm reset stops every pod sandbox of the node, and the CRI kills a stopped
sandbox's containers without a grace period, so keepalived cannot take the VIP off the
interface on its way out; another control plane takes the VIP over, and two hosts would
then answer ARP for it. The reset role has kubeadm_reset release the VIP. After
``reset.yml --limit <holder>``: the host holds no VIP, exactly one other control plane
does, the API answers through the VIP, the Node is gone, etcd has one healthy member per
remaining control plane; a second reset.yml changes nothing.

Then the way back. The reset host has no cluster any more; if it were the init host,
``kubeadm init`` would make a second cluster behind the same VIP. kubeadm_init asks the
endpoint first: site.yml with ``control_plane_init_host=<the reset host>`` must stop in
the control_plane stage with that explanation and leave the host without a cluster.
With the init host set to a control plane that kept the cluster (the first one that
is not the reset host, which is the default unless the reset host is the first), the
host joins again: Ready with the control-plane label, one etcd member per control plane,
all healthy, the VIP on exactly one node.
"""
import time

ORDER = 60


def test_reset_the_vip_holder_and_join_it_again(cluster, tls):
    cluster.wait_for(lambda: cluster.vip_ready(tls), 120, what="the API through the VIP")
    holder = cluster.wait_for(cluster.single_vip_holder, 60, what="exactly one VIP holder")[0]
    others = [n for n in cluster.CONTROL_PLANES if n != holder]

    start = time.monotonic()
    reset, recap = cluster.playbook("--limit", holder, "-e", "reset_confirm=true", path="reset.yml")
    cluster.record("reset.yml of the VIP holder, s", round(time.monotonic() - start, 1))
    assert reset.returncode == 0, reset.stdout[-8000:]
    assert recap[holder]["changed"] > 0 and recap[holder]["failed"] == 0, recap

    # The VIP is off the reset host (kubeadm_reset released it) and on one other.
    assert holder not in cluster.vip_holders()
    new = cluster.wait_for(cluster.single_vip_holder, 60, what="exactly one VIP holder after the reset")
    assert new[0] in others, new
    start = time.monotonic()
    cluster.wait_for(lambda: cluster.vip_ready(tls), 60, interval=0.5, what="the API through the VIP after the reset")
    cluster.record("reset of the VIP holder: API through the VIP after reset.yml ended, s",
                   round(time.monotonic() - start, 1))
    assert holder not in cluster.nodes_ready()
    assert cluster.etcd_member_names() == sorted(others)
    cluster.wait_for(lambda: cluster.etcd_members()[1].returncode == 0, 120, what="the remaining etcd members healthy")
    assert cluster.dexec(holder, "test", "-e", "/etc/kubernetes/admin.conf", check=False).returncode != 0
    assert cluster.dexec(holder, "test", "-e", "/var/lib/etcd/member", check=False).returncode != 0

    again, recap = cluster.playbook("--limit", holder, "-e", "reset_confirm=true", path="reset.yml")
    assert again.returncode == 0, again.stdout[-8000:]
    assert recap[holder]["changed"] == 0, again.stdout[-8000:]

    # The reset host as init host: the endpoint answers, so kubeadm init must not run.
    refused, recap = cluster.playbook("--tags", "control_plane", "-e", "control_plane_init_host=" + holder)
    assert refused.returncode != 0, refused.stdout[-8000:]
    assert "second cluster" in refused.stdout, refused.stdout[-8000:]
    assert cluster.dexec(holder, "test", "-e", "/etc/kubernetes/admin.conf", check=False).returncode != 0
    assert cluster.etcd_member_names() == sorted(others)

    start = time.monotonic()
    rejoin, recap = cluster.playbook("-e", "control_plane_init_host=" + others[0])
    cluster.record("site.yml joining the reset VIP holder again, s", round(time.monotonic() - start, 1))
    assert rejoin.returncode == 0, rejoin.stdout[-8000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap

    cluster.wait_for(lambda: cluster.nodes_ready().get(holder), 300, what="%s Ready again" % holder)
    labels = cluster.kubectl_json("get", "node", holder)["metadata"]["labels"]
    assert "node-role.kubernetes.io/control-plane" in labels, labels
    assert cluster.etcd_member_names() == sorted(cluster.CONTROL_PLANES)
    cluster.wait_for(lambda: cluster.etcd_members()[1].returncode == 0, 180, what="every etcd member healthy")
    assert len(cluster.wait_for(cluster.single_vip_holder, 60, what="exactly one VIP holder at the end")) == 1
