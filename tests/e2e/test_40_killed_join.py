"""An operator's ansible-playbook is killed in the middle of a control-plane join, and
the join's kubeadm with it (as when the controller or the node goes away). The next
site.yml run must converge: the node joined, etcd with exactly one member per control
plane, every member started and healthy, no stale member left behind."""
import os
import time

ORDER = 40


def test_killed_control_plane_join_is_recovered(cluster, tmp_path):
    # A control plane that neither ran init nor holds the VIP: a raw `kubeadm reset` stops
    # every pod on the node, keepalived too, and on the VIP holder would take the API
    # away for a moment; that is the failover test's subject, not this one's.
    holders = cluster.vip_holders()
    node = [n for n in cluster.CONTROL_PLANES[1:] if n not in holders][-1]
    # Take the node out of the cluster, as a node that is joined for the first time.
    cluster.dexec(node, "kubeadm", "reset", "--force", timeout=300)
    cluster.wait_for(lambda: cluster.kubectl("delete", "node", node, "--ignore-not-found", "--wait=true",
                                             check=False).returncode == 0, 120, what="node %s deleted" % node)
    cluster.wait_for(lambda: node not in cluster.etcd_member_names(), 120, what="etcd member %s removed" % node)

    log = tmp_path / "killed-run.log"
    proc = cluster.start_playbook(log_path=str(log))
    killed_at = None
    try:
        # Kill as soon as etcd knows the new member: the join is then half done.
        def member_added():
            if proc.poll() is not None:
                raise AssertionError("site.yml ended before the join was seen:\n" + log.read_text()[-4000:])
            peer = "https://%s:2380" % cluster.node_ip(node)
            return [m for m in cluster.etcd_members()[0] if peer in m.get("peerURLs", [])]
        cluster.wait_for(member_added, 1800, interval=1, what="etcd member of %s added by kubeadm join" % node)
    finally:
        cluster.kill_group(proc)
        cluster.dexec(node, "pkill", "-KILL", "-f", "kubeadm join", check=False)
        killed_at = time.monotonic()
    cluster.record("killed join: site.yml run before the kill, log lines", len(log.read_text().splitlines()))

    start = time.monotonic()
    rerun, recap = cluster.playbook()
    cluster.record("rerun after a killed control-plane join, s", round(time.monotonic() - start, 1))
    assert rerun.returncode == 0, rerun.stdout[-8000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap
    assert killed_at is not None

    cluster.wait_for(lambda: cluster.nodes_ready().get(node), 300, what="%s Ready" % node)
    # a finished control-plane join: kubeadm's last phase labels and taints the Node
    labels = cluster.kubectl_json("get", "node", node)["metadata"]["labels"]
    assert "node-role.kubernetes.io/control-plane" in labels, labels
    members, health = cluster.etcd_members()
    assert sorted(m.get("name", "") for m in members) == sorted(cluster.CONTROL_PLANES), members
    assert not [m for m in members if m.get("isLearner")], members
    assert health.returncode == 0, health.stdout + health.stderr
    assert os.path.exists(cluster.INVENTORY)
