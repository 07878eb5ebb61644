"""container_runtime rendered with EL facts and for containerd 1.x and 2.x.

molecule/default runs the Debian containerd path for real; the EL path (containerd.io
from Docker's repository), containerd 2.x's version 3 configuration and the Docker +
cri-dockerd path are checked here by rendering.
"""
import json
import os
import tomllib

import pytest
import yaml
from role_render import role_templar, trust, value

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "container_runtime")


def _templar(**facts):
    variables = dict(
        ansible_os_family="RedHat",
        ansible_distribution="Rocky",
        ansible_distribution_release="Blue Onyx",
        ansible_architecture="x86_64",
        ansible_virtualization_role="host",
        ansible_virtualization_type="kvm",
        inventory_hostname="m1",
        groups={"kube_control_plane": ["m1"], "k8s_cluster": ["m1"]},
        hakube_kubernetes_version="1.36.3",
        hakube_image_repository="registry.aliyuncs.com/google_containers",
        hakube_container_runtime="containerd",
        ansible_managed="managed",
        __container_runtime_containerd_version_found="1.7.27",
        __container_runtime_containerd_major="1",
        container_runtime_registry_mirrors={"docker.io": ["https://hub-mirror.c.163.com"]},
        container_runtime_insecure_registries=["192.168.171.150:5000"],
    )
    variables.update(facts)
    return role_templar("container_runtime", variables)


def _render(templar, name, **extra):
    with open(os.path.join(ROLE, "templates", name), encoding="utf-8") as handle:
        source = handle.read()
    if extra:
        templar = templar.copy_with_new_env(available_variables={**templar.available_variables, **extra})
    return templar.template(trust(source))


@pytest.mark.parametrize("version, pause", [("1.34.1", "3.10.1"), ("1.35.0", "3.10.1"), ("1.36.3", "3.10.2"), ("1.37.0", "3.10.2")])
def test_sandbox_image_follows_kubeadm(version, pause):
    templar = _templar(hakube_kubernetes_version=version)
    assert value(templar, "__container_runtime_sandbox_image") == f"registry.aliyuncs.com/google_containers/pause:{pause}"


def test_unknown_minor_leaves_an_empty_tag_for_the_assert():
    assert value(_templar(hakube_kubernetes_version="1.20.0"), "__container_runtime_sandbox_image").endswith(":")


def test_el_defaults_to_containerd_io_from_docker():
    templar = _templar()
    assert value(templar, "container_runtime_containerd_source") == "docker"
    assert value(templar, "__container_runtime_containerd_package") == "containerd.io"
    assert value(templar, "__container_runtime_docker_distro") == "centos"
    assert value(templar, "__container_runtime_cni_package_dirs")["RedHat"] == "/usr/libexec/cni"
    debian = _templar(ansible_os_family="Debian", ansible_distribution="Debian")
    assert value(debian, "container_runtime_containerd_source") == "distribution"
    assert value(debian, "__container_runtime_containerd_package") == "containerd"


def test_containerd_1x_config():
    config = tomllib.loads(_render(_templar(), "config.toml.j2"))
    assert config["version"] == 2
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "registry.aliyuncs.com/google_containers/pause:3.10.2"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["cni"]["bin_dir"] == "/opt/cni/bin"
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"


def test_containerd_2x_config():
    templar = _templar(__container_runtime_containerd_major="2", __container_runtime_containerd_version_found="2.1.4")
    config = tomllib.loads(_render(templar, "config.toml.j2"))
    assert config["version"] == 3
    images = config["plugins"]["io.containerd.cri.v1.images"]
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert images["pinned_images"]["sandbox"].endswith("/pause:3.10.2")
    assert images["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert runtime["cni"]["bin_dirs"] == ["/opt/cni/bin"]


@pytest.mark.parametrize("major, plugin", [("1", "io.containerd.grpc.v1.cri"), ("2", "io.containerd.cri.v1.runtime")])
def test_restrict_oom_score_adj_only_when_asked(major, plugin):
    templar = _templar(__container_runtime_containerd_major=major)
    assert "restrict_oom_score_adj" not in tomllib.loads(_render(templar, "config.toml.j2"))["plugins"][plugin]
    config = tomllib.loads(_render(templar, "config.toml.j2", container_runtime_containerd_restrict_oom_score_adj=True))
    assert config["plugins"][plugin]["restrict_oom_score_adj"] is True


def test_hosts_toml_mirror_and_insecure():
    templar = _templar()
    mirror = tomllib.loads(_render(templar, "hosts.toml.j2", item="docker.io"))
    assert mirror["server"] == "https://registry-1.docker.io"
    assert mirror["host"]["https://hub-mirror.c.163.com"]["capabilities"] == ["pull", "resolve"]
    insecure = tomllib.loads(_render(templar, "hosts.toml.j2", item="192.168.171.150:5000"))
    assert insecure["server"] == "http://192.168.171.150:5000"
    assert insecure["host"]["https://192.168.171.150:5000"]["skip_verify"] is True
    assert "http://192.168.171.150:5000" in insecure["host"]
    assert value(templar, "__container_runtime_registries") == ["docker.io", "192.168.171.150:5000"]


def test_docker_daemon_json_and_cri_dockerd():
    templar = _templar(hakube_container_runtime="docker", container_runtime_docker_daemon_extra={"data-root": "/data/docker"})
    daemon = json.loads(_render(templar, "daemon.json.j2"))
    assert daemon["exec-opts"] == ["native.cgroupdriver=systemd"]
    assert daemon["registry-mirrors"] == ["https://hub-mirror.c.163.com"]
    assert daemon["insecure-registries"] == ["192.168.171.150:5000"]
    assert daemon["log-opts"] == {"max-size": "100m"}
    assert daemon["data-root"] == "/data/docker"
    assert value(templar, "__container_runtime_socket") == "/run/cri-dockerd.sock"
    unit = _render(templar, "cri-docker.service.j2")
    assert "--pod-infra-container-image=registry.aliyuncs.com/google_containers/pause:3.10.2" in unit
    assert "--network-plugin=cni" in unit
    assert value(templar, "__container_runtime_docker_packages") == ["docker-ce", "docker-ce-cli", "containerd.io"]
    assert "rhel" not in value(templar, "container_runtime_cri_dockerd_url")


def test_docker_path_installs_only_what_dpkg_lacks_at_the_pinned_version():
    """The Debian docker path asks dpkg-query first, as the containerd path does; apt gets
    only the packages that are missing or installed at another version."""
    from ansible_collections.hakube.cluster.plugins.filter.packages import dpkg_missing, dpkg_query_argv

    templar = _templar(hakube_container_runtime="docker", ansible_os_family="Debian", ansible_distribution="Debian",
                       container_runtime_docker_source="docker", container_runtime_docker_version="5:28.5.2")
    specs = value(templar, "__container_runtime_docker_apt_specs")
    assert specs == ["docker-ce=5:28.5.2*", "docker-ce-cli", "containerd.io", "containernetworking-plugins"]
    assert dpkg_query_argv(specs)[4:] == ["docker-ce", "docker-ce-cli", "containerd.io", "containernetworking-plugins"]
    listing = ("docker-ce\t5:28.5.2-1~debian.12~bookworm\tii \n"
               "docker-ce-cli\t5:28.5.2-1~debian.12~bookworm\tii \n"
               "containerd.io\t1.7.28-1\tii \n"
               "containernetworking-plugins\t1.1.1+ds1-3+b17\tii \n")
    assert dpkg_missing(specs, listing) == []
    assert dpkg_missing(specs, listing.replace("5:28.5.2-1", "5:27.5.1-1", 1)) == ["docker-ce=5:28.5.2*"]
    assert dpkg_missing(specs, listing.replace("containerd.io\t1.7.28-1\tii", "containerd.io\t1.7.28-1\trc")) == ["containerd.io"]


def test_crictl_yaml_points_at_the_socket():
    assert "runtime-endpoint: unix:///run/containerd/containerd.sock" in _render(_templar(), "crictl.yaml.j2")


def test_restart_handlers_serialise_control_planes():
    with open(os.path.join(ROLE, "handlers", "main.yml"), encoding="utf-8") as handle:
        handlers = yaml.safe_load(handle)
    cp = [h for h in handlers if h["name"].endswith("on a control plane")]
    assert cp and all(h["throttle"] == 1 for h in cp)


def test_one_module_run_lays_out_directories_and_plain_files():
    """tasks/main.yml hands every directory and the files no restart depends on to one
    file_set run: containerd's certs.d per registry with its hosts.toml (rendered per
    registry, as the old per-registry task did) and crictl.yaml; Docker gets /etc/docker
    and no hosts.toml; no crictl, no completion directory."""
    search = dict(ansible_search_path=[os.path.abspath(ROLE)])
    templar = _templar(**search)
    assert value(templar, "__container_runtime_directories") == [
        "/var/cache/hakube", "/var/lib/hakube", "/etc/containerd", "/etc/containerd/certs.d",
        "/etc/containerd/certs.d/docker.io", "/etc/containerd/certs.d/192.168.171.150:5000",
        "/opt/cni/bin", "/etc/cni/net.d", "/etc/bash_completion.d"]
    files = {f["dest"]: f for f in value(templar, "__container_runtime_plain_files")}
    assert list(files) == ["/etc/containerd/certs.d/docker.io/hosts.toml",
                           "/etc/containerd/certs.d/192.168.171.150:5000/hosts.toml", "/etc/crictl.yaml"]
    assert all((f["owner"], f["group"], f["mode"]) == ("root", "root", "0644") for f in files.values())
    for registry in ("docker.io", "192.168.171.150:5000"):
        assert files["/etc/containerd/certs.d/%s/hosts.toml" % registry]["content"] == \
            _render(templar, "hosts.toml.j2", item=registry)
    assert files["/etc/crictl.yaml"]["content"] == _render(templar, "crictl.yaml.j2")

    docker = _templar(hakube_container_runtime="docker", container_runtime_crictl_source="none", **search)
    assert value(docker, "__container_runtime_directories") == [
        "/var/cache/hakube", "/var/lib/hakube", "/etc/docker", "/opt/cni/bin", "/etc/cni/net.d"]
    assert [f["dest"] for f in value(docker, "__container_runtime_plain_files")] == ["/etc/crictl.yaml"]
    assert "unix:///run/cri-dockerd.sock" in value(docker, "__container_runtime_plain_files")[0]["content"]
