#!/usr/bin/env python
"""Wall time of the prep + runtime + packages converge and of its idempotent rerun.

For each host count (default 1 3 6) start that many hakube/node:bookworm systemd
containers (the molecule/default settings), converge them with the collection's
playbooks, run the same playbooks again, and destroy them. kube_packages installs from
an offline bundle: by default the one tests/bundle/build-from-source built here (real
kubeadm, kubelet, kubectl and crictl, and the image archives it imports into
containerd, the air-gapped path as users run it) when it is there, else a fake one
(three shell stand-ins from molecule/default, no images, crictl from the molecule build
cache when present); `--bundle fake|built|DIR` chooses. Results are appended to
bench/converge.md with the machine (nproc, memory, kernel), the date, the load average
during each run and the CPU seconds it used (the controller with its docker CLI
children, and the containers' cgroups), which depend much less on what else runs on the
machine than wall time does. Per-task times come from ansible.posix.profile_tasks.

    .venv/bin/python bench/converge.py [--connection PLUGIN] [--bundle fake|built|DIR] [--host-cpus N] [counts...]

--host-cpus N gives every node container a CPU quota of N cores (docker run --cpus): a
model of a fleet in which each host has CPUs of its own, as real hosts do. Without it
all nodes and the controller share this machine's cores, so six hosts need six times
the CPU of one on the same cores, whatever the roles do (see bench/converge.md).

The connection defaults to community.docker.docker (the docker CLI): with pipelining
(ansible.cfg [connection]) it measured 0.17 s per no-op module run here against 0.24 s
for community.docker.docker_api, and without pipelining both need 0.45-0.5 s (see
bench/converge.md). The collection's users connect over SSH; these numbers are for
containers.
"""
import datetime
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
VENV_BIN = os.path.join(TOP, ".venv", "bin")
IMAGE = os.environ.get("HAKUBE_BENCH_IMAGE", "hakube/node:bookworm")
VERSION = "1.36.3"
CRICTL = "/var/cache/hakube/crictl/v1.34.0/crictl"
BUILT = f"/var/cache/hakube/bundle/{VERSION}"


def capabilities():
    with open(os.path.join(TOP, "tests", "images", "capabilities"), encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def start(names, host_cpus=None):
    caps = sum((["--cap-add", c] for c in capabilities()), [])
    quota = ["--cpus", str(host_cpus)] if host_cpus else []
    for name in names:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--hostname", name, "--cap-drop", "ALL", *caps, *quota,
             "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
             "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run",
             "--tmpfs", "/tmp", IMAGE, "/sbin/init"],
            check=True, capture_output=True,
        )
    # Timed runs start once systemd inside every container has finished booting: on a
    # loaded machine the sixth container may still be booting (and fail the first exec).
    for name in names:
        subprocess.run(["docker", "exec", name, "timeout", "180", "systemctl", "is-system-running", "--wait"],
                       capture_output=True, check=False)


def stop(names):
    subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)


def bundle(root):
    template = open(os.path.join(TOP, "molecule", "default", "files", "fake-kube-binary.sh.j2"), encoding="utf-8").read()
    os.makedirs(os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "images"))
    for name in ("kubeadm", "kubelet", "kubectl"):
        path = os.path.join(root, "bin", name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(template.replace("{{ fake_name }}", name).replace("{{ fake_version }}", VERSION))
        os.chmod(path, 0o755)


def describe(bundle_dir):
    """What the bench installs kube_packages from, for the results' header."""
    images = [f for f in os.listdir(os.path.join(bundle_dir, "images")) if f.endswith(".tar")]
    if not images:
        return "a fake bundle (three shell stand-ins for kubeadm, kubelet and kubectl, no images)"
    size = sum(os.path.getsize(os.path.join(bundle_dir, d, f)) for d in ("bin", "images")
               for f in os.listdir(os.path.join(bundle_dir, d)))
    return (f"the bundle built here ({bundle_dir}: {len(os.listdir(os.path.join(bundle_dir, 'bin')))} binaries "
            f"and {len(images)} image archives, {size / 2**20:.0f} MiB, imported into containerd)")


def inventory(path, names, bundle_dir, connection):
    cps = names[: 3 if len(names) >= 3 else 1]
    workers = names[len(cps):]
    crictl_file = next((f for f in (os.path.join(bundle_dir, "bin", "crictl"), CRICTL) if os.path.exists(f)), None)
    crictl = f"container_runtime_crictl_source: file\n    container_runtime_crictl_file: {crictl_file}" if crictl_file \
        else "container_runtime_crictl_source: none"
    lines = ["all:", "  vars:", f"    ansible_connection: {connection}",
             f"    hakube_kubernetes_version: \"{VERSION}\"", "    hakube_image_repository: registry.k8s.io",
             "    hakube_kube_proxy_mode: iptables", "    hakube_apiserver_lb_mode: none",
             "    kube_packages_source: bundle", f"    kube_packages_bundle_dir: {bundle_dir}", f"    {crictl}",
             "  children:", "    kube_control_plane:", "      hosts:"]
    lines += [f"        {n}:" for n in cps]
    lines += ["    kube_node:", "      hosts:" if workers else "      hosts: {}"]
    lines += [f"        {n}:" for n in workers]
    lines += ["    k8s_cluster:", "      children:", "        kube_control_plane:", "        kube_node:"]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def container_cpu(names):
    """CPU seconds used so far by the containers' cgroups (cgroup v1 cpuacct or v2)."""
    total = 0.0
    for name in names:
        cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True,
                             check=False).stdout.strip()
        for path, scale in ((f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage", 1e-9),
                            (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat", 1e-6)):
            if cid and os.path.exists(path):
                text = open(path, encoding="utf-8").read()
                total += (int(text.split()[1]) if path.endswith("cpu.stat") else int(text)) * scale
                break
    return total


class LoadSampler(threading.Thread):
    """The 1-minute load average, sampled every 5 s while a run lasts."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = [os.getloadavg()[0]]
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(5):
            self.samples.append(os.getloadavg()[0])

    def stop(self):
        self.done.set()
        self.join()
        self.samples.append(os.getloadavg()[0])
        return min(self.samples), sum(self.samples) / len(self.samples), max(self.samples)


def converge(inv, log, names):
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"],
               ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory",
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
    if os.path.exists(log):
        os.remove(log)
    sampler = LoadSampler()
    sampler.start()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    box0 = container_cpu(names)
    began = time.monotonic()
    with open(log, "a", encoding="utf-8") as out:
        rc = subprocess.run(
            [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inv,
             os.path.join(TOP, "playbooks", "prep.yml"), os.path.join(TOP, "playbooks", "runtime.yml"),
             os.path.join(TOP, "playbooks", "packages.yml")],
            env=env, cwd=TOP, stdout=out, stderr=subprocess.STDOUT, check=False,
        ).returncode
    wall = time.monotonic() - began
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    controller = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"rc": rc, "wall": wall, "load": sampler.stop(), "cpu_controller": controller,
            "cpu_containers": container_cpu(names) - box0, **profile(log, names[0])}


HEADER = re.compile(r"^(TASK|RUNNING HANDLER) \[(.*)\] \*+")
ELAPSED = re.compile(r"\((\d+):(\d+):(\d+\.\d+)\)")


def profile(log, host):
    """Per-task times (profile_tasks prints each task's time at the start of the next) and the
    first host's counts from the last PLAY RECAP: tasks that ran on it and tasks skipped."""
    lines = open(log, encoding="utf-8").read().splitlines()
    tasks, current = [], None
    for line in lines:
        match = HEADER.match(line)
        if match:
            current = [match.group(2), [], 0.0]
            tasks.append(current)
        elif current is not None:
            current[1].append(line)
    for task, following in zip(tasks, tasks[1:]):
        match = ELAPSED.search(following[1][0]) if following[1] else None
        if match:
            task[2] = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))
    ran = [t for t in tasks if any(line.startswith(("ok:", "changed:")) for line in t[1])]
    recap = [line for line in lines if line.startswith(host + " ") and "ok=" in line]
    counts = dict(re.findall(r"(\w+)=(\d+)", recap[-1])) if recap else {}
    return {"tasks_ran": len(ran), "task_time": sum(t[2] for t in ran),
            "host_ok": int(counts.get("ok", 0)), "host_changed": int(counts.get("changed", 0)),
            "host_skipped": int(counts.get("skipped", 0)),
            "slowest": sorted(((t[2], t[0]) for t in ran), reverse=True)[:5]}


def machine():
    mem = next(line for line in open("/proc/meminfo", encoding="utf-8") if line.startswith("MemTotal"))
    return f"nproc {os.cpu_count()}, memory {int(mem.split()[1]) // 1024} MiB, kernel {platform.release()}"


def main(counts, connection, bundle_arg, host_cpus=None):
    subprocess.run([os.path.join(TOP, "scripts", "docker-engine")], check=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hakube-bench-") as tmp:
        if bundle_arg == "auto":
            bundle_arg = "built" if os.path.exists(os.path.join(BUILT, "BUNDLE.json")) else "fake"
        if bundle_arg == "fake":
            bundle_dir = os.path.join(tmp, "bundle")
            bundle(bundle_dir)
        else:
            bundle_dir = BUILT if bundle_arg == "built" else os.path.abspath(bundle_arg)
            if not os.path.exists(os.path.join(bundle_dir, "BUNDLE.json")):
                sys.exit(f"--bundle {bundle_arg}: no BUNDLE.json in {bundle_dir} (tests/bundle/build-from-source makes one)")
        source = describe(bundle_dir)
        for count in counts:
            names = [f"hakube-bench-{i}" for i in range(1, count + 1)]
            stop(names)
            start(names, host_cpus)
            try:
                inv = os.path.join(tmp, f"hosts-{count}.yml")
                inventory(inv, names, bundle_dir, connection)
                first = converge(inv, os.path.join(tmp, f"converge-{count}.log"), names)
                rerun = converge(inv, os.path.join(tmp, f"rerun-{count}.log"), names)
                ok = "ok" if first["rc"] == 0 and rerun["rc"] == 0 else f"FAILED (rc {first['rc']}/{rerun['rc']})"
                rows.append((count, first, rerun, ok))
                print(f"{count} hosts: converge {first['wall']:.0f} s, rerun {rerun['wall']:.0f} s, "
                      f"load {first['load'][1]:.1f}/{rerun['load'][1]:.1f}, {ok}", flush=True)
                if ok != "ok":
                    for log in (f"converge-{count}.log", f"rerun-{count}.log"):
                        print("".join(open(os.path.join(tmp, log), encoding="utf-8").readlines()[-40:]))
            finally:
                stop(names)
    with open(os.path.join(TOP, "bench", "converge.md"), "a", encoding="utf-8") as md:
        md.write(f"\n## {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC — {machine()}\n\n")
        md.write(f"kube_packages from {source}.\n\n")
        if host_cpus:
            md.write(f"Each node container limited to {host_cpus} CPU (docker run --cpus {host_cpus}): every host has CPU of "
                     "its own, as in a fleet, instead of all sharing this machine's cores.\n\n")
        md.write(f"Connection {connection}; load average (1 min) min/mean/max sampled every 5 s during each run; "
                 "CPU s = controller (ansible and its docker CLI children) + containers' cgroups.\n\n")
        md.write("| hosts | converge (s) | idempotent rerun (s) | rerun / converge | load converge | load rerun "
                 "| CPU s converge | CPU s rerun | result |\n|---|---|---|---|---|---|---|---|---|\n")
        for count, first, rerun, ok in rows:
            load = ["/".join(f"{v:.1f}" for v in r["load"]) for r in (first, rerun)]
            cpu = [f"{r['cpu_controller']:.0f} + {r['cpu_containers']:.0f}" for r in (first, rerun)]
            md.write(f"| {count} | {first['wall']:.0f} | {rerun['wall']:.0f} | {rerun['wall'] / first['wall']:.2f} "
                     f"| {load[0]} | {load[1]} | {cpu[0]} | {cpu[1]} | {ok} |\n")
        if len(rows) > 1 and rows[0][0] == 1:
            md.write(f"\n{rows[-1][0]} hosts / 1 host (converge): {rows[-1][1]['wall'] / rows[0][1]['wall']:.2f}\n")
        md.write("\nPer host, from profile_tasks: tasks run on the first host (ok+changed / skipped), "
                 "task headers that ran anywhere and the sum of their times.\n\n"
                 "| hosts | run | tasks on host 1 | skipped | tasks run | sum of task times (s) | mean per task (s) |\n"
                 "|---|---|---|---|---|---|---|\n")
        for count, first, rerun, ok in rows:
            for label, r in (("converge", first), ("rerun", rerun)):
                md.write(f"| {count} | {label} | {r['host_ok']} ({r['host_changed']} changed) | {r['host_skipped']} "
                         f"| {r['tasks_ran']} | {r['task_time']:.1f} | {r['task_time'] / max(r['tasks_ran'], 1):.2f} |\n")
        count, first, rerun, ok = rows[-1]
        md.write(f"\nSlowest tasks of the {count}-host rerun: "
                 + "; ".join(f"{name} {secs:.1f} s" for secs, name in rerun["slowest"]) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    conn, bundle_choice, cpus = "community.docker.docker", "auto", None
    while args[:1] in (["--connection"], ["--bundle"], ["--host-cpus"]):
        if args[0] == "--connection":
            conn = args[1]
        elif args[0] == "--bundle":
            bundle_choice = args[1]
        else:
            cpus = float(args[1])
        args = args[2:]
    main([int(a) for a in args] or [1, 3, 6], conn, bundle_choice, cpus)
