#!/usr/bin/env python
"""The lab cluster's numbers: wall time per stage and in total for the first converge of
site.yml, the no-op rerun, and the lab's peak memory.

    .venv/bin/python bench/lab.py            # destroys any lab, builds it anew, measures
    LAB_KEEP=1 .venv/bin/python bench/lab.py # leave the lab up afterwards
    LAB_CONNECTION=docker .venv/bin/python bench/lab.py   # docker exec instead of SSH

The first converge is ``scripts/lab up`` on new nodes (images and the offline bundle
cached, as on a second ``make lab``); per-stage times come from ansible.posix's
profile_roles callback (one role per stage). Peak memory is read from the kernel:
each node container's cgroup v1 ``memory.max_usage_in_bytes`` (the sum is an upper
bound of the lab's peak, since the nodes need not peak together) and this machine's
``MemTotal - MemAvailable`` sampled every 2 s. Results are appended to bench/lab.md
with the machine and the date. Target (issue 7): no-op rerun under 20 % of the first
converge.
"""
import datetime
import os
import platform
import re
import subprocess
import sys
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
NODES = ["lab-cp1", "lab-cp2", "lab-cp3", "lab-w1", "lab-w2"]
ROLE_LINE = re.compile(r"^(?P<role>[a-z_]+) -+ (?P<secs>\d+\.\d+)s$", re.M)
TASK_LINE = re.compile(r"^(?P<task>hakube\.cluster\.[a-z_]+ : .+?) -+ (?P<secs>\d+\.\d+)s$", re.M)
RECAP_CHANGED = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", re.M)
STAGES = ["preflight", "host_prep", "container_runtime", "kube_packages", "apiserver_lb",
          "control_plane", "workers", "cni_bridge", "calico", "purelb"]


def used_mib():
    info = {}
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) // 1024


class MemorySampler(threading.Thread):
    """Peak used memory, and the 1-minute load average, every 2 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = used_mib()
        self.loads = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(2):
            self.peak = max(self.peak, used_mib())
            self.loads.append(os.getloadavg()[0])

    def load_since(self, mark):
        values = self.loads[mark:] or [os.getloadavg()[0]]
        return "%.1f/%.1f/%.1f" % (min(values), sum(values) / len(values), max(values))


def node_peaks_mib():
    out = {}
    for node in NODES:
        cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", node], capture_output=True, text=True,
                             check=False).stdout.strip()
        path = "/sys/fs/cgroup/memory/docker/%s/memory.max_usage_in_bytes" % cid
        if cid and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                out[node] = int(handle.read()) // (1024 * 1024)
    return out


def lab(action, log, extra_env=None):
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_roles,ansible.posix.profile_tasks",
               ANSIBLE_NOCOLOR="1", PROFILE_TASKS_TASK_OUTPUT_LIMIT="12")
    env.update(extra_env or {})
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as handle:
        proc = subprocess.run([os.path.join(TOP, "scripts", "lab"), action], stdout=handle,
                              stderr=subprocess.STDOUT, env=env, cwd=TOP, check=False)
    elapsed = time.monotonic() - start
    with open(log, encoding="utf-8") as handle:
        text = handle.read()
    if proc.returncode != 0:
        sys.exit("bench/lab: scripts/lab %s failed (exit %d), see %s" % (action, proc.returncode, log))
    return elapsed, text


def main():
    logs = os.path.join(TOP, "bench", "results")
    os.makedirs(logs, exist_ok=True)
    subprocess.run([os.path.join(TOP, "scripts", "lab"), "down"], cwd=TOP, check=True, capture_output=True)
    base_mib = used_mib()
    sampler = MemorySampler()
    sampler.start()
    mark = len(sampler.loads)
    first, first_log = lab("up", os.path.join(logs, "lab-first-converge.log"))
    load_first, mark = sampler.load_since(mark), len(sampler.loads)
    rerun, rerun_log = lab("up", os.path.join(logs, "lab-rerun.log"))
    load_rerun = sampler.load_since(mark)
    sampler.stop.set()
    connection = os.environ.get("LAB_CONNECTION", "ssh")
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=TOP, capture_output=True,
                            text=True, check=False).stdout.strip()
    slowest = [(m["task"], float(m["secs"])) for m in TASK_LINE.finditer(rerun_log)][:8]
    peaks = node_peaks_mib()
    stages = {m["role"]: float(m["secs"]) for m in ROLE_LINE.finditer(first_log)}
    rerun_stages = {m["role"]: float(m["secs"]) for m in ROLE_LINE.finditer(rerun_log)}
    changed = {h: int(c) for h, c in RECAP_CHANGED.findall(rerun_log)}

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem = int(handle.readline().split()[1]) // 1024
    lines = ["", "## %s — nproc %d, memory %d MiB, kernel %s, load before %.1f" % (
        now, os.cpu_count(), mem, platform.release(), os.getloadavg()[0]), ""]
    lines += ["Connection %s; code %s; 1-minute load min/mean/max: converge %s, rerun %s." % (
        connection, commit, load_first, load_rerun), ""]
    lines += ["| stage (role) | first converge (s) | no-op rerun (s) |", "|---|---|---|"]
    for stage in STAGES:
        if stage in stages or stage in rerun_stages:
            lines.append("| %s | %.1f | %.1f |" % (stage, stages.get(stage, 0.0), rerun_stages.get(stage, 0.0)))
    lines += ["| **total, `scripts/lab up` wall time** | **%.0f** | **%.0f** |" % (first, rerun), "",
              "no-op rerun / first converge: %.2f (target < 0.20); changed on the rerun: %s" % (
                  rerun / first, ", ".join("%s=%d" % kv for kv in sorted(changed.items()))),
              "",
              "peak memory: nodes (sum of each node's cgroup peak) %d MiB (%s); this machine's used "
              "memory rose from %d to a peak of %d MiB" % (
                  sum(peaks.values()), ", ".join("%s %d" % kv for kv in sorted(peaks.items())),
                  base_mib, sampler.peak)]
    if slowest:
        lines += ["", "slowest tasks of the rerun: " + "; ".join("%s %.1f s" % kv for kv in slowest)]
    with open(os.path.join(TOP, "bench", "lab.md"), "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if not os.environ.get("LAB_KEEP"):
        subprocess.run([os.path.join(TOP, "scripts", "lab"), "down"], cwd=TOP, check=True, capture_output=True)


if __name__ == "__main__":
    main()
