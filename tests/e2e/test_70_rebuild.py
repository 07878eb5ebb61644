"""The whole cluster is reset, then built again, and the operator's ansible-playbook is
killed in the middle of ``kubeadm init`` on the first control plane (kubeadm with it).

reset.yml without --limit takes every host out: workers first, then the control planes
one at a time, with no control plane left to drain from (the drain is skipped). After
it no host has a kubeconfig, etcd data or kube-proxy's iptables chains, no host holds
the VIP, and a second reset.yml changes nothing.

Then site.yml runs until kubeadm init has written the static pod manifests, and is
killed with its kubeadm. The lab sets ``control_plane_init_recover: true``, so the next
site.yml must converge: kubeadm_init finds the host half-initialised (its admin.conf is
refused or its API server does not answer, because init stopped before its end) and
starts over with kubeadm reset and init. That half-made cluster may already answer at
the VIP: kubeadm_init must not take its own unfinished API server for another cluster.
At the end all five nodes are Ready, etcd has one healthy member per control plane, the
VIP is on one node and the API answers through it with the new cluster's CA.
"""
import time

ORDER = 70


def no_kubernetes_left(cluster, node):
    leftovers = [path for path in ("/etc/kubernetes/admin.conf", "/etc/kubernetes/kubelet.conf", "/var/lib/etcd/member")
                 if cluster.dexec(node, "test", "-e", path, check=False).returncode == 0]
    rules = cluster.dexec(node, "iptables-save").stdout
    return leftovers + (["KUBE- chains"] if "KUBE-" in rules else [])


def test_reset_everything_then_recover_a_killed_init(cluster, tmp_path):
    init = cluster.CONTROL_PLANES[0]

    start = time.monotonic()
    reset, recap = cluster.playbook("-e", "reset_confirm=true", path="reset.yml")
    cluster.record("reset.yml of the whole cluster, s", round(time.monotonic() - start, 1))
    assert reset.returncode == 0, reset.stdout[-8000:]
    assert all(recap[n]["changed"] > 0 and recap[n]["failed"] == 0 for n in cluster.NODES), recap
    assert {n: no_kubernetes_left(cluster, n) for n in cluster.NODES} == {n: [] for n in cluster.NODES}
    assert cluster.vip_holders() == []
    again, recap = cluster.playbook("-e", "reset_confirm=true", path="reset.yml")
    assert again.returncode == 0, again.stdout[-8000:]
    assert all(recap[n]["changed"] == 0 for n in cluster.NODES), again.stdout[-8000:]

    log = tmp_path / "killed-init.log"
    proc = cluster.start_playbook(log_path=str(log))
    try:
        def init_half_done():
            if proc.poll() is not None:
                raise AssertionError("site.yml ended before kubeadm init was seen:\n" + log.read_text()[-4000:])
            running = cluster.dexec(init, "pgrep", "-f", "kubeadm init", check=False).returncode == 0
            manifests = cluster.dexec(init, "test", "-e", "/etc/kubernetes/manifests/kube-apiserver.yaml",
                                      check=False).returncode == 0
            return running and manifests
        cluster.wait_for(init_half_done, 1800, interval=1, what="kubeadm init on %s writing its manifests" % init)
    finally:
        cluster.kill_group(proc)
        cluster.dexec(init, "pkill", "-KILL", "-f", "kubeadm init", check=False)
    assert "PLAY RECAP" not in log.read_text()

    start = time.monotonic()
    rerun, recap = cluster.playbook()
    cluster.record("rerun after a killed kubeadm init, s", round(time.monotonic() - start, 1))
    assert rerun.returncode == 0, rerun.stdout[-8000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recap.values()), recap

    cluster.wait_for(lambda: sorted(n for n, ready in cluster.nodes_ready().items() if ready) == sorted(cluster.NODES),
                     600, what="every node Ready")
    assert cluster.etcd_member_names() == sorted(cluster.CONTROL_PLANES)
    cluster.wait_for(lambda: cluster.etcd_members()[1].returncode == 0, 180, what="every etcd member healthy")
    assert len(cluster.wait_for(cluster.single_vip_holder, 60, what="exactly one VIP holder")) == 1
    tls = cluster.ssl_context()  # the new cluster's CA
    cluster.wait_for(lambda: cluster.vip_ready(tls), 120, what="the API through the VIP")
    again, recap = cluster.playbook()
    assert again.returncode == 0 and all(r["changed"] == 0 for r in recap.values()), again.stdout[-8000:]
