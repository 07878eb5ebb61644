#!/usr/bin/env bash
# Build a fake pkgs.k8s.io-style flat apt repository in a test container:
#   /srv/hakube-fake-repo/core:/stable:/v<minor>/deb/{Packages,Release,*.deb}
# with kubeadm, kubelet and kubectl in several versions, so that the role's pinning
# (pick hakube_kubernetes_version, not the newest) and hold can be tested without the
# internet. Usage: fake-repo.sh <minor> <version>...   Safe to run again.
set -euo pipefail
minor=$1; shift
repo="/srv/hakube-fake-repo/core:/stable:/v$minor/deb"
mkdir -p "$repo"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for version in "$@"; do
  for name in kubeadm kubelet kubectl; do
    deb="$repo/${name}_${version}-1.1_amd64.deb"
    [ -f "$deb" ] && continue
    root="$work/$name-$version"
    mkdir -p "$root/DEBIAN" "$root/usr/bin"
    sed -e "s/{{ fake_name }}/$name/g" -e "s/{{ fake_version }}/$version/g" \
      /usr/local/share/hakube/fake-kube-binary.sh.j2 > "$root/usr/bin/$name"
    chmod 0755 "$root/usr/bin/$name"
    if [ "$name" = kubelet ]; then
      mkdir -p "$root/usr/lib/systemd/system"
      printf '[Unit]\nDescription=kubelet (fake)\n[Service]\nExecStart=/usr/bin/kubelet\n[Install]\nWantedBy=multi-user.target\n' \
        > "$root/usr/lib/systemd/system/kubelet.service"
    fi
    printf 'Package: %s\nVersion: %s-1.1\nArchitecture: amd64\nMaintainer: hakube tests <root@localhost>\nDescription: fake %s for hakube.cluster tests\n' \
      "$name" "$version" "$name" > "$root/DEBIAN/control"
    dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
  done
done
cd "$repo"
: > Packages
for deb in *.deb; do
  dpkg-deb -f "$deb" >> Packages
  printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$deb" "$(stat -c %s "$deb")" "$(sha256sum "$deb" | cut -d' ' -f1)" >> Packages
done
{
  printf 'Origin: hakube-fake\nLabel: hakube-fake\nDate: %s\nSHA256:\n' "$(date -Ru)"
  printf ' %s %s Packages\n' "$(sha256sum Packages | cut -d' ' -f1)" "$(stat -c %s Packages)"
} > Release
