"""The converged lab is the cluster site.yml promises: every node Ready, three healthy
etcd members, the API answering through the VIP with a certificate for the VIP."""
import json

ORDER = 10


def test_every_node_is_ready(cluster):

    def all_ready():
        ready = cluster.nodes_ready()
        return ready if all(ready.values()) and len(ready) == len(cluster.NODES) else None
    ready = cluster.wait_for(all_ready, timeout=300, what="every node Ready")
    assert sorted(ready) == sorted(cluster.NODES)


def test_control_planes_carry_the_control_plane_role(cluster):
    items = cluster.kubectl_json("get", "nodes", "--selector=node-role.kubernetes.io/control-plane")["items"]
    assert sorted(i["metadata"]["name"] for i in items) == sorted(cluster.CONTROL_PLANES)


def test_etcd_has_three_healthy_members(cluster):
    members, health = cluster.etcd_members()
    assert sorted(m.get("name", "") for m in members) == sorted(cluster.CONTROL_PLANES)
    assert not [m for m in members if m.get("isLearner")], members
    assert health.returncode == 0, health.stdout + health.stderr
    endpoints = json.loads(health.stdout)
    assert len(endpoints) == len(cluster.CONTROL_PLANES)
    assert all(e["health"] for e in endpoints), endpoints


def test_api_answers_through_the_vip(cluster, tls):
    # TLS is verified against the cluster CA, with the VIP as the name.
    assert cluster.vip_ready(tls, timeout=5), "https://%s:%d/readyz did not answer 200" % (cluster.VIP, cluster.LB_PORT)
    assert len(cluster.vip_holders()) == 1, "exactly one control plane holds the VIP"


def test_workers_hold_only_the_images_they_run(cluster):
    """kube_packages imports the bundle's control-plane images (apiserver, controller-manager,
    scheduler, etcd, haproxy, keepalived) on control planes only; every node has what
    every node runs (pause, kube-proxy, CoreDNS)."""
    everywhere = {"pause", "kube-proxy", "coredns"}
    control_plane_only = {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "haproxy", "keepalived"}
    for node in cluster.NODES:
        listing = json.loads(cluster.dexec(node, "crictl", "images", "-o", "json").stdout)
        names = {tag.rsplit("/", 1)[-1].partition(":")[0] for image in listing["images"] for tag in image.get("repoTags") or []}
        assert everywhere <= names, (node, sorted(names))
        if node in cluster.CONTROL_PLANES:
            assert control_plane_only <= names, (node, sorted(names))
        else:
            assert not control_plane_only & names, (node, sorted(names))


def test_pods_on_different_nodes_reach_each_other_and_dns_works(cluster):
    # On a new lab CoreDNS is scheduled only once a node is Ready, which the pod network
    # stage makes it near the end of site.yml: its pods may still be starting.
    def dns_pods_ready():
        pods = cluster.kubectl_json("get", "pods", "--namespace=kube-system", "--selector=k8s-app=kube-dns")["items"]
        ready = [p for p in pods if p["status"].get("phase") == "Running"
                 and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
        return pods if pods and len(ready) == len(pods) else None
    pods = cluster.wait_for(dns_pods_ready, 180, what="every CoreDNS pod Running and Ready")
    # every node reaches a CoreDNS pod by its pod IP (host routes of the bridge network)
    for node in cluster.NODES:
        for pod in pods:
            cluster.dexec(node, "ping", "-c", "1", "-W", "2", pod["status"]["podIP"])
    # and the cluster DNS Service answers through kube-proxy's iptables rules
    svc = cluster.kubectl_json("get", "service", "--namespace=kube-system", "kube-dns")
    out = cluster.dexec(cluster.WORKERS[0] if cluster.WORKERS else cluster.CONTROL_PLANES[0],
                        "python3", "-c", DNS_QUERY, svc["spec"]["clusterIP"]).stdout
    assert out.strip() == "ok", out


# A DNS query for kubernetes.default.svc.<domain> over UDP, answered with at least one
# record (python3 is on every node; dig is not).
DNS_QUERY = r"""
import socket, struct, sys
server = sys.argv[1]
name = b"".join(bytes([len(p)]) + p for p in b"kubernetes.default.svc.cluster.local".split(b".")) + b"\0"
query = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
for _ in range(5):
    try:
        s.sendto(query, (server, 53)); data = s.recv(512); break
    except OSError:
        continue
else:
    sys.exit("no answer from %s" % server)
ident, flags, qd, an = struct.unpack(">HHHH", data[:8])
print("ok" if ident == 0x4242 and flags & 0x000f == 0 and an > 0 else "bad answer %r" % data)
"""
