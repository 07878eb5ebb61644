#!/usr/bin/env python
"""Wall time of the prep + runtime + packages converge and of its idempotent rerun.

For each host count (default 1 3 6) start that many hakube/node:bookworm systemd
containers (the molecule/default settings), converge them with the collection's
playbooks (kube_packages from a fake offline bundle, crictl from the build cache when
present), run the same playbooks again, and destroy them. Results are appended to
bench/converge.md with the machine (nproc, memory, kernel) and the date.

    .venv/bin/python bench/converge.py [counts...]
"""
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
VENV_BIN = os.path.join(TOP, ".venv", "bin")
IMAGE = os.environ.get("HAKUBE_BENCH_IMAGE", "hakube/node:bookworm")
VERSION = "1.36.3"
CRICTL = "/var/cache/hakube/crictl/v1.34.0/crictl"


def capabilities():
    with open(os.path.join(TOP, "tests", "images", "capabilities"), encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def start(names):
    caps = sum((["--cap-add", c] for c in capabilities()), [])
    for name in names:
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--hostname", name, "--cap-drop", "ALL", *caps,
             "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
             "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run",
             "--tmpfs", "/tmp", IMAGE, "/sbin/init"],
            check=True, capture_output=True,
        )


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


def inventory(path, names, bundle_dir):
    cps = names[: 3 if len(names) >= 3 else 1]
    workers = names[len(cps):]
    crictl = f"container_runtime_crictl_source: file\n    container_runtime_crictl_file: {CRICTL}" if os.path.exists(CRICTL) \
        else "container_runtime_crictl_source: none"
    lines = ["all:", "  vars:", "    ansible_connection: community.docker.docker",
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


def converge(inv, log):
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"],
               ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory")
    began = time.monotonic()
    with open(log, "a", encoding="utf-8") as out:
        rc = subprocess.run(
            [os.path.join(VENV_BIN, "ansible-playbook"), "-i", inv,
             os.path.join(TOP, "playbooks", "prep.yml"), os.path.join(TOP, "playbooks", "runtime.yml"),
             os.path.join(TOP, "playbooks", "packages.yml")],
            env=env, cwd=TOP, stdout=out, stderr=subprocess.STDOUT, check=False,
        ).returncode
    return rc, time.monotonic() - began


def machine():
    mem = next(line for line in open("/proc/meminfo", encoding="utf-8") if line.startswith("MemTotal"))
    return f"nproc {os.cpu_count()}, memory {int(mem.split()[1]) // 1024} MiB, kernel {platform.release()}"


def main(counts):
    subprocess.run([os.path.join(TOP, "scripts", "docker-engine")], check=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="hakube-bench-") as tmp:
        bundle(os.path.join(tmp, "bundle"))
        for count in counts:
            names = [f"hakube-bench-{i}" for i in range(1, count + 1)]
            stop(names)
            start(names)
            try:
                inv = os.path.join(tmp, f"hosts-{count}.yml")
                inventory(inv, names, os.path.join(tmp, "bundle"))
                log = os.path.join(tmp, f"converge-{count}.log")
                rc1, first = converge(inv, log)
                rc2, rerun = converge(inv, log)
                ok = "ok" if rc1 == 0 and rc2 == 0 else f"FAILED (rc {rc1}/{rc2}; log tail below)"
                rows.append((count, first, rerun, ok))
                print(f"{count} hosts: converge {first:.0f} s, rerun {rerun:.0f} s, {ok}", flush=True)
                if ok != "ok":
                    print("".join(open(log, encoding="utf-8").readlines()[-40:]))
            finally:
                stop(names)
    with open(os.path.join(TOP, "bench", "converge.md"), "a", encoding="utf-8") as md:
        md.write(f"\n## {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC — {machine()}\n\n")
        md.write("| hosts | converge (s) | idempotent rerun (s) | rerun / converge | result |\n|---|---|---|---|---|\n")
        for count, first, rerun, ok in rows:
            md.write(f"| {count} | {first:.0f} | {rerun:.0f} | {rerun / first:.2f} | {ok} |\n")
        if len(rows) > 1 and rows[0][0] == 1:
            md.write(f"\n{rows[-1][0]} hosts / 1 host (converge): {rows[-1][1] / rows[0][1]:.2f}\n")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 3, 6])
