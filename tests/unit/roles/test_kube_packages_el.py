"""kube_packages rendered with EL facts (dnf repository, versionlock) and for mirrors.

molecule/default installs from a fake pkgs.k8s.io-style apt repository (control plane)
and from an offline bundle (worker) for real; the dnf path is checked here.
"""
import os
import re

import pytest

from role_render import role_tasks, role_templar, trust, value

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "kube_packages")


def _templar(**facts):
    variables = dict(
        ansible_os_family="RedHat",
        ansible_virtualization_role="host",
        ansible_virtualization_type="kvm",
        inventory_hostname="w1",
        groups={"kube_control_plane": ["m1"], "k8s_cluster": ["m1", "w1"]},
        hakube_kubernetes_version="1.36.3",
        ansible_managed="managed",
        # Never the machine's own /var/cache/hakube/bundle: the tests give their bundles.
        kube_packages_bundle_dir="/nonexistent/hakube-bundle",
    )
    variables.update(trust(facts))
    return role_templar("kube_packages", variables)


def _tasks(name):
    return role_tasks("kube_packages", name)


def test_rpm_repository_and_key():
    templar = _templar()
    assert value(templar, "__kube_packages_repo_rpm") == "https://pkgs.k8s.io/core:/stable:/v1.36/rpm/"
    assert value(templar, "__kube_packages_repo_key") == "https://pkgs.k8s.io/core:/stable:/v1.36/rpm/repodata/repomd.xml.key"


def test_mirror_with_flat_layout():
    templar = _templar(kube_packages_repo_url="https://mirrors.aliyun.com/kubernetes-new/core/stable/", kube_packages_repo_layout="flat")
    assert value(templar, "__kube_packages_repo_rpm") == "https://mirrors.aliyun.com/kubernetes-new/core/stable/v1.36/rpm/"


def test_dnf_and_apt_specs_pin_the_version():
    templar = _templar()
    assert value(templar, "__kube_packages_dnf_specs") == ["kubeadm-1.36.3", "kubelet-1.36.3", "kubectl-1.36.3"]
    assert value(templar, "__kube_packages_apt_specs") == ["kubeadm=1.36.3-*", "kubelet=1.36.3-*", "kubectl=1.36.3-*"]
    released = _templar(kube_packages_package_release="150500.1.1")
    assert value(released, "__kube_packages_dnf_specs")[0] == "kubeadm-1.36.3-150500.1.1"


def test_kubectl_only_on_control_planes_when_asked():
    assert value(_templar(kube_packages_kubectl_everywhere=False), "__kube_packages_names") == ["kubeadm", "kubelet"]
    cp = _templar(kube_packages_kubectl_everywhere=False, inventory_hostname="m1")
    assert value(cp, "__kube_packages_names") == ["kubeadm", "kubelet", "kubectl"]


def test_el_tasks_exclude_install_and_lock():
    tasks = _tasks("repository_el.yml")
    repo = tasks[0]["ansible.builtin.yum_repository"]
    assert set(repo["exclude"]) >= {"kubelet", "kubeadm", "kubectl"}
    install = next(t for t in tasks if "ansible.builtin.dnf" in t and "disable_excludes" in t["ansible.builtin.dnf"])
    assert install["ansible.builtin.dnf"]["disable_excludes"] == "kubernetes"
    assert any("community.general.dnf_versionlock" in t for t in tasks)


def test_other_version_lock_pattern():
    release = next(t for t in _tasks("repository_el.yml") if t["name"] == "Release the locks on other versions")
    templar = _templar(**release["vars"])
    pattern = templar.template(templar.available_variables["__kube_packages_other_lock"]).strip()
    assert re.search(pattern, "kubeadm-0:1.36.2-150500.1.1.*")
    assert not re.search(pattern, "kubeadm-0:1.36.3-150500.1.1.*")
    assert not re.search(pattern, "kubelet-1.36.3-150500.1.1.*")


def test_bundle_dropin_on_el():
    templar = _templar(kube_packages_source="bundle")
    with open(os.path.join(ROLE, "templates", "10-kubeadm.conf.j2"), encoding="utf-8") as handle:
        dropin = templar.template(trust(handle.read()))
    assert "EnvironmentFile=-/etc/sysconfig/kubelet" in dropin
    assert "ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS" in dropin


def _bundle(tmp_path, version):
    (tmp_path / "BUNDLE.json").write_text('{"format": "hakube-bundle/v1", "kubernetes_version": "%s"}' % version)
    return str(tmp_path)


def _bins(current):
    """The registered results the bundle tasks leave: the bundle's sha1s on the
    controller, and a find of the installed binaries with `current` matching."""
    names = ["kubeadm", "kubelet", "kubectl"]
    bundle = {"results": [{"item": n, "stat": {"exists": True, "checksum": "%s-sha" % n}} for n in names]}
    files = [{"path": "/usr/local/bin/" + n, "checksum": "%s-sha" % n if n in current else "old",
              "mode": "0755", "pw_name": "root", "gr_name": "root"} for n in names]
    return dict(kube_packages_source="bundle", __kube_packages_bundle_bins=bundle,
                __kube_packages_installed_bins={"files": files})


def test_bundle_version_from_bundle_json(tmp_path):
    assert value(_templar(kube_packages_bundle_dir=_bundle(tmp_path, "v1.35.2")), "__kube_packages_bundle_version") == "1.35.2"
    assert value(_templar(kube_packages_bundle_dir=str(tmp_path / "none")), "__kube_packages_bundle_version") == ""


def test_versions_are_run_unless_every_binary_is_the_bundles(tmp_path):
    good = _bundle(tmp_path, "1.36.3")
    assert value(_templar(kube_packages_bundle_dir=good, **_bins(["kubeadm", "kubelet", "kubectl"])),
                 "__kube_packages_versions_known") is True
    # A binary copied in this run: its version is read from the binary.
    assert value(_templar(kube_packages_bundle_dir=good, **_bins(["kubeadm"])),
                 "__kube_packages_versions_known") is False
    # A bundle for another version, or none: read them.
    other = tmp_path / "other"
    other.mkdir()
    assert value(_templar(kube_packages_bundle_dir=_bundle(other, "1.35.2"), **_bins(["kubeadm", "kubelet", "kubectl"])),
                 "__kube_packages_versions_known") is False
    assert value(_templar(kube_packages_bundle_dir=str(tmp_path / "none"), **_bins(["kubeadm", "kubelet", "kubectl"])),
                 "__kube_packages_versions_known") is False
    assert value(_templar(kube_packages_source="repository"), "__kube_packages_versions_known") is False


def test_bundle_check_is_per_host_and_the_controller_look_covers_every_binary(tmp_path):
    """The controller's look at the bundle runs once (run_once) for all three binaries, in
    a file that only bundle hosts include: a play whose first host installs from a
    repository still checks the bundle for the others. Each host then checks the
    binaries it installs: a bundle without kubectl fails a control plane, not a worker
    that gets no kubectl."""
    main = {t["name"]: t for t in _tasks("main.yml")}
    assert "ansible.builtin.include_tasks" in main["Install from the offline bundle"]
    look = next(t for t in _tasks("bundle.yml") if t["name"] == "Checksum the bundle's binaries that BUNDLE.json does not vouch for")
    assert look["run_once"] is True
    assert value(_templar(kube_packages_bundle_dir="/nowhere", __loop=look["loop"]), "__loop") == ["kubeadm", "kubelet", "kubectl"]
    check = next(t for t in _tasks("bundle.yml") if t["name"] == "Check that the bundle has every binary")
    assert "run_once" not in check
    no_kubectl = {"results": [{"item": n, "stat": {"exists": n != "kubectl", "checksum": "x"}}
                              for n in ("kubeadm", "kubelet", "kubectl")]}
    for host, missing in (("m1", ["kubectl"]), ("w1", [])):
        templar = _templar(inventory_hostname=host, kube_packages_source="bundle", kube_packages_kubectl_everywhere=False,
                           kube_packages_bundle_dir=str(tmp_path), __kube_packages_bundle_bins=no_kubectl, **check["vars"])
        assert value(templar, "__kube_packages_bundle_missing") == missing, host


@pytest.mark.parametrize("host, mode, elsewhere", [
    ("m1", "keepalived_haproxy", []),
    ("w1", "keepalived_haproxy",
     ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "haproxy", "keepalived"]),
    # Every node runs its own haproxy: workers import that image too.
    ("w1", "haproxy_local", ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "keepalived"]),
])
def test_workers_leave_out_the_control_plane_images(host, mode, elsewhere):
    """bundle_images.yml plans the import with images_except(__kube_packages_images_elsewhere):
    what a worker never runs is not copied or imported there."""
    from ansible_collections.hakube.cluster.plugins.filter.images import images_except

    templar = _templar(inventory_hostname=host, hakube_apiserver_lb_mode=mode)
    assert value(templar, "__kube_packages_images_elsewhere") == elsewhere
    bundle = [{"file": "images/%s.tar" % n, "refs": ["registry.k8s.io/%s:1" % n], "id": n}
              for n in ("kube-apiserver", "kube-proxy", "etcd", "pause", "coredns", "haproxy")]
    kept = [i["file"] for i in images_except(bundle, elsewhere)]
    assert "images/kube-proxy.tar" in kept and "images/pause.tar" in kept and "images/coredns.tar" in kept
    assert ("images/kube-apiserver.tar" in kept) is (host == "m1")
    assert ("images/haproxy.tar" in kept) is (host == "m1" or mode == "haproxy_local")
    plan = next(t for t in _tasks("bundle_images.yml") if t["name"] == "Work out which image archives this host still needs")
    assert "images_except(__kube_packages_images_elsewhere)" in plan["ansible.builtin.set_fact"]["__kube_packages_image_plan"]


def test_binaries_bundle_json_vouches_for_are_not_checksummed_on_the_controller(tmp_path):
    """With a BUNDLE.json that lists the binaries as they are, the controller reads their
    SHA-256 from it and runs no stat; a binary replaced after the manifest was written is
    checksummed again, and its checksum, not the manifest's, is compared."""
    import hashlib
    import json
    import time

    (tmp_path / "bin").mkdir()
    files = {}
    for name in ("kubeadm", "kubelet", "kubectl"):
        data = ("#!/bin/sh\necho %s\n" % name).encode()
        (tmp_path / "bin" / name).write_bytes(data)
        os.utime(str(tmp_path / "bin" / name), (time.time() - 60, time.time() - 60))
        files["bin/" + name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (tmp_path / "BUNDLE.json").write_text(json.dumps({"kubernetes_version": "1.36.3", "files": files}))
    look = next(t for t in _tasks("bundle.yml") if t["name"] == "Checksum the bundle's binaries that BUNDLE.json does not vouch for")
    templar = _templar(kube_packages_source="bundle", kube_packages_bundle_dir=str(tmp_path), __loop=look["loop"])
    assert value(templar, "__loop") == []
    assert value(templar, "__kube_packages_bundle_sums") == {n: files["bin/" + n]["sha256"] for n in ("kubeadm", "kubelet", "kubectl")}
    installed = [{"path": "/usr/local/bin/" + n, "checksum": files["bin/" + n]["sha256"], "mode": "0755",
                  "pw_name": "root", "gr_name": "root"} for n in ("kubeadm", "kubelet", "kubectl")]
    templar = _templar(kube_packages_source="bundle", kube_packages_bundle_dir=str(tmp_path),
                       __kube_packages_installed_bins={"files": installed})
    assert value(templar, "__kube_packages_bins_current") == ["kubeadm", "kubelet", "kubectl"]
    assert value(templar, "__kube_packages_versions_known") is True

    (tmp_path / "bin" / "kubelet").write_bytes(b"#!/bin/sh\necho hotfix\n")
    templar = _templar(kube_packages_source="bundle", kube_packages_bundle_dir=str(tmp_path), __loop=look["loop"],
                       __kube_packages_installed_bins={"files": installed},
                       __kube_packages_bundle_bins={"results": [{"item": "kubelet", "stat": {"exists": True, "checksum": "hotfix"}}]})
    assert value(templar, "__loop") == ["kubelet"]
    assert value(templar, "__kube_packages_bundle_sums")["kubelet"] == "hotfix"
    assert value(templar, "__kube_packages_bins_current") == ["kubeadm", "kubectl"]


def test_check_mode_reads_no_version_of_a_binary_this_run_would_install():
    """check.yml skips, in check mode, the binaries __kube_packages_would_install names:
    from a bundle those that differ; from a repository all when the package install would
    change or the repository is not there yet (molecule's check step runs both paths on
    new hosts)."""
    task = next(t for t in _tasks("check.yml") if t["name"] == "Read the installed versions")
    assert "not (ansible_check_mode and item.name in __kube_packages_would_install)" in task["when"]
    bundle = _templar(kube_packages_source="bundle", inventory_hostname="m1", **{
        k: v for k, v in _bins(["kubelet"]).items() if k != "kube_packages_source"})
    assert value(bundle, "__kube_packages_would_install") == ["kubeadm", "kubectl"]
    repo = dict(kube_packages_source="repository", inventory_hostname="m1")
    assert value(_templar(**repo, __kube_packages_package_install={"changed": False}), "__kube_packages_would_install") == []
    assert value(_templar(**repo, __kube_packages_package_install={"changed": True}),
                 "__kube_packages_would_install") == ["kubeadm", "kubelet", "kubectl"]
    assert value(_templar(**repo, __kube_packages_package_install={"skipped": True},
                          __kube_packages_repo_file={"stat": {"exists": False}}),
                 "__kube_packages_would_install") == ["kubeadm", "kubelet", "kubectl"]
