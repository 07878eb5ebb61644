"""Real failover of the apiserver VIP and load balancer written by hakube.cluster.apiserver_lb.

Three systemd containers on a docker network of their own (tests/integration/lb/):
playbooks/lb.yml writes keepalived.conf, check_apiserver.sh, haproxy.cfg and the static
pod manifests into them; Debian's keepalived and haproxy then run there with exactly
the manifests' command lines, next to a stand-in kube-apiserver (HTTPS /healthz on
6443 answering with its hostname). A client on the host sends 20 requests per second
to https://VIP:8443 while the test breaks the VIP holder in three ways; a sampler reads
every container's addresses 4 times per second.

Asserted: exactly one holder before each fault; never two holders at any sample; the
VIP moves and requests succeed again within 10 s (the issue's bound); the broken node
comes back without taking the VIP back (nopreempt, no flapping); haproxy stops sending
to a backend whose /healthz fails. Failed requests are counted and reported, not
asserted (they depend on the machine's load). Measured times go to
bench/lb-failover.md when HAKUBE_LB_BENCH_OUT names a file (bench/lb_failover.py).
"""
import csv
import datetime
import http.client
import io
import os
import platform
import re
import ssl
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lb"))
# pylint: disable-next=unused-import
from lb_fixtures import lb_cluster, lb_image, lb_run, lb_wait_systemd  # noqa: E402,F401  (fixtures by name)

BOUND = 10.0  # seconds: the bound for a failover
RATE = 20  # requests per second
RESULTS = []


def _request(host, path, timeout=1.0):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(host, 8443, timeout=timeout, context=ctx)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


class Recorder:
    """A bounded client (RATE req/s) and a bounded VIP sampler, both in threads."""

    def __init__(self, cluster, seconds, path="/healthz"):
        self.cluster, self.seconds, self.path = cluster, seconds, path
        self.start_time = time.monotonic()
        self.requests = []  # (sent at, ok, body)
        self.samples = []  # (at, [holders])
        self.threads = [threading.Thread(target=self._client, daemon=True), threading.Thread(target=self._sampler, daemon=True)]
        for t in self.threads:
            t.start()

    def now(self):
        return time.monotonic() - self.start_time

    def _one(self, sent):
        try:
            status, body = _request(self.cluster.vip, self.path)
            self.requests.append((sent, status == 200, body))
        except (OSError, http.client.HTTPException) as exc:
            self.requests.append((sent, False, repr(exc)))

    def _client(self):
        # One thread per request, started on its slot: a request that hangs until its
        # 1 s timeout does not delay the next ones (at most ~RATE in flight).
        workers = []
        for i in range(int(self.seconds * RATE)):
            slot = i / RATE
            if self.now() < slot:
                time.sleep(slot - self.now())
            t = threading.Thread(target=self._one, args=(self.now(),), daemon=True)
            t.start()
            workers.append(t)
        for t in workers:
            t.join(timeout=5)

    def _sampler(self):
        for _i in range(int(self.seconds * 4) + 4):
            if self.now() > self.seconds:
                break
            at = self.now()
            try:
                self.samples.append((at, self.cluster.holders()))
            except (AssertionError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.25)

    def join(self):
        for t in self.threads:
            t.join(timeout=self.seconds + 30)


def wait_single_holder(cluster, timeout=30):
    deadline = time.monotonic() + timeout
    holders = []
    while time.monotonic() < deadline:
        holders = cluster.holders()
        if len(holders) == 1:
            return holders[0]
        time.sleep(0.25)
    raise AssertionError("no single VIP holder within %d s: %s" % (timeout, holders))


def _judge(rec, t0, old):
    """Check one failover's recording; return what the report needs."""
    detail = "samples %s; failed requests %s" % (
        [(round(at - t0, 2), h) for at, h in rec.samples if at >= t0 - 1],
        [(round(at - t0, 2), body[:60]) for at, ok, body in rec.requests if not ok])
    assert rec.samples and rec.requests
    assert max(len(h) for _at, h in rec.samples) <= 1, "split brain: " + detail
    moved = [at for at, h in rec.samples if at >= t0 and h and h[0] != old]
    assert moved, "the VIP never left %s: %s" % (old, detail)
    vip_time = moved[0] - t0
    new = [h for at, h in rec.samples if at >= t0 and h][-1][0]
    assert new != old, detail
    # A request still in flight (1 s timeout) when the fault hits counts as after it.
    before = [r for r in rec.requests if r[0] < t0 - 1.0]
    after = [r for r in rec.requests if r[0] >= t0 - 1.0]
    failed = [r for r in after if not r[1]]
    last_failure = max((r[0] - t0 for r in failed), default=-1.0)
    recovered = [max(r[0] - t0, 0.0) for r in after if r[1] and r[0] - t0 > last_failure]
    assert recovered, "no request succeeded after the last failure: " + detail
    assert vip_time <= BOUND, "the VIP took %.1f s to move: %s" % (vip_time, detail)
    assert recovered[0] <= BOUND, "requests failed for %.1f s: %s" % (recovered[0], detail)
    return failed, after, before, vip_time, recovered, new


def failover(cluster, label, fault, restore):
    """Break the holder with fault(holder), measure, then restore(holder) and watch."""
    old = stabilize(cluster)
    load = os.getloadavg()[0]
    rec = Recorder(cluster, seconds=BOUND + 6)
    time.sleep(2)
    t0 = rec.now()
    restored = False
    try:
        fault(old)
        rec.join()
        failed, after, before, vip_time, recovered, new = _judge(rec, t0, old)
        # Bring the old holder back: it must not take the VIP back (no flapping).
        restore(old)
        restored = True
        watch = Recorder(cluster, seconds=8)
        watch.join()
    finally:
        if not restored:
            restore(old)
    assert max(len(h) for _at, h in watch.samples) <= 1, "split brain after restore: %s" % watch.samples
    assert {tuple(h) for _at, h in watch.samples} == {(new,)}, "the VIP moved after %s came back: %s" % (old, watch.samples)
    restore_failed = [r for r in watch.requests if not r[1]]
    RESULTS.append({
        "scenario": label, "from": old, "to": new, "vip_moved_s": vip_time, "recovered_s": recovered[0],
        "failed": len(failed), "sent": len(after), "restore_failed": len(restore_failed),
        "before_failed": len([r for r in before if not r[1]]), "load": load,
    })


def stabilize(cluster, timeout=60):
    """Wait for a settled cluster: one holder, every backend UP everywhere, 10 good requests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = wait_single_holder(cluster, timeout=max(1, deadline - time.monotonic()))
        try:
            up = all(set(show_stat(cluster, n).values()) == {"UP"} for n in cluster.nodes)
            good = up and all(_request(cluster.vip, "/healthz")[0] == 200 for _i in range(10))
        except (AssertionError, OSError, http.client.HTTPException, KeyError):
            good = False
        if good and cluster.holders() == [holder]:
            return holder
        time.sleep(0.5)
    raise AssertionError("the cluster did not settle within %d s" % timeout)


def show_stat(cluster, node):
    out = cluster.exec(node, "sh", "-c", "echo 'show stat' | socat stdio /run/apiserver-lb/haproxy.sock").stdout
    rows = list(csv.DictReader(io.StringIO(out.lstrip("# "))))
    return {r["svname"]: r["status"] for r in rows if r["pxname"] == "apiserver" and r["svname"] not in ("FRONTEND", "BACKEND")}


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


@pytest.fixture(scope="module", autouse=True)
def lb_bench_report():
    yield
    out = os.environ.get("HAKUBE_LB_BENCH_OUT")
    if not out or not RESULTS:
        return
    mem = subprocess.run(["sh", "-c", "free -h | awk '/^Mem:/ {print $2}'"], capture_output=True, text=True, check=False).stdout.strip()
    lines = [
        "# apiserver LB failover, measured",
        "",
        "Written by `bench/lb_failover.py` (tests/integration/test_lb_failover.py with",
        "HAKUBE_LB_BENCH_OUT). Three containers with Debian's keepalived 2.2 and haproxy 2.6",
        "running the files hakube.cluster.apiserver_lb wrote (defaults: advert_int 1, check",
        "interval 1 / fall 2 / rise 2, curl --max-time 1, haproxy inter 1s fall 2 rise 2,",
        "nopreempt); a client on the docker host sends %d requests/s (each on its own thread" % RATE,
        "and TLS connection, 1 s timeout) to https://VIP:8443/healthz; the VIP is sampled",
        "4 times a second.",
        "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "- machine: %s CPUs (nproc), %s memory, kernel %s" % (len(os.sched_getaffinity(0)), mem, platform.release()),
        "- 1-minute load average at each fault: %s (other jobs shared the machine)" % ", ".join("%.1f" % r["load"] for r in RESULTS),
        "",
        "| fault on the VIP holder | VIP moved after | requests OK again after | failed / sent | failed while it came back | failed before the fault |",
        "|---|---|---|---|---|---|",
    ]
    for r in RESULTS:
        lines.append("| %s | %.1f s | %.1f s | %d / %d | %d | %d |" % (
            r["scenario"], r["vip_moved_s"], r["recovered_s"], r["failed"], r["sent"], r["restore_failed"], r["before_failed"]))
    lines += [
        "",
        "Times are from the fault to the first sample showing the VIP elsewhere, and to the",
        "first successful request after the last failed one (sampling adds up to 0.25 s and",
        "0.05 s). The issue's bound is 10 s. The old holder always came back as BACKUP",
        "(nopreempt): the VIP did not move again. \"Failed\" counts requests that got no 200",
        "within 1 s, sent from 1 s before the fault (in flight when it hit) to 16 s after.",

        "",
    ]
    with open(out, "w") as f:
        f.write("\n".join(lines))


def test_role_files_and_one_vip_holder(lb_cluster):
    c = lb_cluster
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", c.second_run.stdout, re.M)
    assert sorted(recap) == sorted((n, "0") for n in c.nodes), c.second_run.stdout[-3000:]
    for node in c.nodes:
        modes = c.exec(node, "stat", "-c", "%n %a", "/etc/kubernetes/manifests", "/etc/kubernetes/apiserver-lb",
                       "/etc/kubernetes/apiserver-lb/keepalived.conf", "/etc/kubernetes/apiserver-lb/haproxy.cfg",
                       "/etc/kubernetes/apiserver-lb/check_apiserver.sh", "/etc/kubernetes/manifests/keepalived.yaml",
                       "/etc/kubernetes/manifests/haproxy.yaml").stdout.split()
        assert modes[1::2] == ["700", "700", "600", "600", "700", "600", "600"]
        # The real binaries accept the files.
        c.exec(node, "haproxy", "-c", "-q", "-f", "/etc/kubernetes/apiserver-lb/haproxy.cfg")
        c.exec(node, "keepalived", "--config-test", "--use-file=/etc/kubernetes/apiserver-lb/keepalived.conf")
        # The interface came from the facts, the VIP has the node network's prefix.
        conf = c.exec(node, "cat", "/etc/kubernetes/apiserver-lb/keepalived.conf").stdout
        assert "interface eth0\n" in conf and "%s/24 dev eth0" % c.vip in conf
    assert len(wait_single_holder(c)) > 0
    bodies = {_request(c.vip, "/whoami")[1] for _i in range(12)}
    assert bodies == set(c.nodes)  # roundrobin over every stand-in


def test_haproxy_drops_a_backend_whose_healthz_fails(lb_cluster):
    c = lb_cluster
    holder = wait_single_holder(c)
    sick = [n for n in c.nodes if n != holder][0]
    wait_for(lambda: set(show_stat(c, holder).values()) == {"UP"}, 15, "all backends UP")
    c.exec(sick, "touch", "/run/standin-fail")
    try:
        wait_for(lambda: show_stat(c, holder)[sick] == "DOWN", 10, "%s DOWN in haproxy" % sick)
        assert _request(c.vip, "/healthz")[0] == 200
        bodies = [_request(c.vip, "/whoami")[1] for _i in range(20)]
        assert sick not in bodies and set(bodies) == set(c.nodes) - {sick}
        assert wait_single_holder(c) == holder
    finally:
        c.exec(sick, "rm", "-f", "/run/standin-fail")
    wait_for(lambda: show_stat(c, holder)[sick] == "UP", 10, "%s UP again" % sick)
    assert sick in {_request(c.vip, "/whoami")[1] for _i in range(12)}
    stabilize(c)


def test_failover_when_the_apiserver_stops(lb_cluster):
    c = lb_cluster
    failover(c, "kube-apiserver stand-in stopped", lambda n: c.stop_unit(n, "standin-apiserver"), c.start_standin)


def test_failover_when_keepalived_stops(lb_cluster):
    c = lb_cluster
    failover(c, "keepalived stopped", lambda n: c.stop_unit(n, "lb-keepalived"), c.start_keepalived)


def test_failover_when_the_whole_node_dies(lb_cluster):
    c = lb_cluster

    def kill(node):
        lb_run(["docker", "kill", node])

    def revive(node):
        lb_run(["docker", "start", node])
        c.refresh_pids()
        lb_wait_systemd(c, node)
        c.start_all(node)

    failover(c, "node killed (docker kill, SIGKILL)", kill, revive)
