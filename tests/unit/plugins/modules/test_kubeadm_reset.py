# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.kubeadm_reset against the fake kubeadm (see fakes/)."""

import os
import shutil
import subprocess

import pytest

from fakes.harness import FakeHost, make_ca


@pytest.fixture(scope='session')
def ca(tmp_path_factory):
    return make_ca(str(tmp_path_factory.mktemp('ca')), 'kubernetes')


@pytest.fixture
def host(tmp_path, ca):
    return FakeHost(tmp_path / 'host', ca[0])


@pytest.fixture
def cni(host):
    path = os.path.join(host.root, 'etc', 'cni', 'net.d')
    os.makedirs(path)
    return path


def args(host, *cleanup, **extra):
    out = dict(kubernetes_dir=host.kdir, etcd_data_dir=host.etcd, cleanup_paths=list(cleanup))
    out.update(extra)
    return out


def test_nothing_to_reset(host, cni):
    result = host.run('kubeadm_reset', args(host, cni, os.path.join(host.root, 'home', '.kube', 'config')))
    assert result['changed'] is False
    assert result['found'] == []
    assert result['removed_paths'] == []
    assert host.kubeadm_calls() == []
    assert os.path.isdir(cni)


def test_reset_a_joined_node(host, cni):
    kubelet_conf = host.touch('kubelet.conf')
    ca_crt = host.touch('pki', 'ca.crt')
    conflist = host.touch(path=os.path.join(cni, '10-calico.conflist'))
    result = host.run('kubeadm_reset', args(host, cni))
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert sorted(result['found']) == sorted([kubelet_conf, ca_crt])
    assert result['removed_paths'] == [cni]
    assert host.kubeadm_calls()[0]['argv'] == ['reset', '-f']
    assert not os.path.exists(kubelet_conf)
    assert not os.path.exists(ca_crt)
    assert not os.path.exists(conflist)
    assert os.path.isdir(cni), 'the directory itself stays'
    assert 'Deleting contents of directories' in result['stdout']
    again = host.run('kubeadm_reset', args(host, cni))
    assert again['changed'] is False
    assert host.kubeadm_commands() == ['reset']


def test_reset_a_control_plane(host):
    host.touch('admin.conf')
    host.touch('manifests', 'etcd.yaml')
    db = host.touch(path=os.path.join(host.etcd, 'member', 'snap', 'db'))
    result = host.run('kubeadm_reset', args(host, cri_socket='unix:///run/containerd/containerd.sock'))
    assert result['changed'] is True
    assert host.kubeadm_calls()[0]['argv'] == ['reset', '-f', '--cri-socket', 'unix:///run/containerd/containerd.sock']
    assert not os.path.exists(db)
    assert not os.path.exists(host.path('admin.conf'))


def test_check_mode_runs_nothing(host, cni):
    kubelet_conf = host.touch('kubelet.conf')
    conflist = host.touch(path=os.path.join(cni, '10-calico.conflist'))
    result = host.run('kubeadm_reset', args(host, cni), check=True)
    assert result['changed'] is True
    assert result['found'] == [kubelet_conf]
    assert result['removed_paths'] == [cni]
    assert host.kubeadm_calls() == []
    assert os.path.exists(kubelet_conf)
    assert os.path.exists(conflist)


def test_only_cleanup_paths_left(host, cni):
    sub = os.path.join(cni, 'calico-kubeconfig.d')
    host.touch(path=os.path.join(sub, 'x'))
    kubeconfig = host.touch(path=os.path.join(host.root, 'home', '.kube', 'config'))
    result = host.run('kubeadm_reset', args(host, cni, '~/.kube/config'), env={'HOME': os.path.join(host.root, 'home')})
    assert result['changed'] is True
    assert result['found'] == []
    assert result['removed_paths'] == [cni, kubeconfig]
    assert host.kubeadm_calls() == [], 'kubeadm reset is not needed for leftover CNI files'
    assert os.listdir(cni) == []
    assert not os.path.exists(kubeconfig)


def test_default_cleanup_paths_are_documented_defaults(host):
    result = host.run('kubeadm_reset', dict(kubernetes_dir=host.kdir, etcd_data_dir=host.etcd), check=True,
                      env={'HOME': os.path.join(host.root, 'home')})
    assert result['invocation']['module_args']['cleanup_paths'] == ['/etc/cni/net.d', os.path.join(host.root, 'home', '.kube', 'config')]


def test_reset_failure_is_quoted(host, cni):
    host.touch('kubelet.conf')
    conflist = host.touch(path=os.path.join(cni, '10-calico.conflist'))
    result = host.run('kubeadm_reset', args(host, cni), env={'FAKE_KUBEADM_FAIL': 'reset'})
    assert result['failed'] is True
    assert result['msg'].startswith('kubeadm reset -f failed (rc=1): ')
    assert 'error execution phase cleanup-node' in result['msg']
    assert result['removed_paths'] == []
    assert os.path.exists(conflist), 'nothing is cleaned up when the reset failed'


def test_timeout(host):
    host.touch('kubelet.conf')
    result = host.run('kubeadm_reset', args(host, timeout=1), env={'FAKE_KUBEADM_SLEEP': '5'})
    assert result['failed'] is True
    assert 'kubeadm reset -f did not finish in time' in result['msg']


# release_addresses runs the real iproute2 in a network namespace of its own, with the
# "VIP" on its loopback: what a keepalived killed by the reset leaves on an interface.
@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which('ip'):
        pytest.skip('needs root and iproute2 (ip netns)')
    name = 'hakube-reset-%d' % os.getpid()
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        subprocess.run(['ip', '-n', name, 'link', 'set', 'lo', 'up'], check=True)
        yield name
    finally:
        subprocess.run(['ip', 'netns', 'del', name], check=False)


def addresses(netns):
    out = subprocess.run(['ip', '-n', netns, '-o', 'addr', 'show'], check=True, capture_output=True, text=True).stdout
    return sorted(line.split()[3] for line in out.splitlines())


def test_release_addresses_takes_the_vip_off_after_the_reset(host, cni, netns):
    subprocess.run(['ip', '-n', netns, 'addr', 'add', '10.9.9.10/32', 'dev', 'lo'], check=True)
    subprocess.run(['ip', '-n', netns, '-6', 'addr', 'add', 'fd00:9::10/128', 'dev', 'lo'], check=True)
    host.touch('kubelet.conf')
    wrap = ['ip', 'netns', 'exec', netns]
    release = ['10.9.9.10', 'fd00:9::10', '10.9.9.11']
    checked = host.run('kubeadm_reset', args(host, cni, release_addresses=release), check=True, wrap=wrap)
    assert checked['changed'] is True
    assert sorted(e['address'] for e in checked['released_addresses']) == ['10.9.9.10', 'fd00:9::10']
    assert host.kubeadm_calls() == [], 'check mode runs nothing'
    assert '10.9.9.10/32' in addresses(netns)

    result = host.run('kubeadm_reset', args(host, cni, release_addresses=release), wrap=wrap)
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert sorted(result['released_addresses'], key=lambda e: e['address']) == [
        dict(address='10.9.9.10', prefix=32, interface='lo'),
        dict(address='fd00:9::10', prefix=128, interface='lo'),
    ]
    assert host.kubeadm_commands() == ['reset']
    assert addresses(netns) == ['127.0.0.1/8', '::1/128'], 'the VIP is gone, the rest stays'

    again = host.run('kubeadm_reset', args(host, cni, release_addresses=release), wrap=wrap)
    assert again['changed'] is False
    assert again['released_addresses'] == []


def test_release_addresses_alone_is_a_change_on_a_reset_host(host, cni, netns):
    """A host reset earlier, by hand or by a run before release_addresses, still holds
    the VIP: releasing it is the whole change, and kubeadm does not run."""
    subprocess.run(['ip', '-n', netns, 'addr', 'add', '10.9.9.10/32', 'dev', 'lo'], check=True)
    result = host.run('kubeadm_reset', args(host, cni, release_addresses=['10.9.9.10']),
                      wrap=['ip', 'netns', 'exec', netns])
    assert result['changed'] is True
    assert result['released_addresses'] == [dict(address='10.9.9.10', prefix=32, interface='lo')]
    assert host.kubeadm_calls() == []
    assert addresses(netns) == ['127.0.0.1/8', '::1/128']


def test_release_addresses_refuses_a_prefix(host, cni):
    result = host.run('kubeadm_reset', args(host, cni, release_addresses=['10.9.9.10/32']))
    assert result.get('failed') is True
    assert 'release_addresses' in result['msg'] and 'without a prefix' in result['msg']
    assert host.kubeadm_calls() == []


# remove_iptables_chains / remove_nftables_tables run the real iptables (nf_tables
# backend here, as on Debian 12) and nft in a network namespace of their own, loaded with
# what kube-proxy (iptables mode), the portmap plugin and kube-proxy's nftables mode make,
# next to rules of other programs that must stay.
KUBE_RULES = """\
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SVC-ERIFXISQEP7F7OF4 - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:DOCKER - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A KUBE-SERVICES -d 10.33.128.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A DOCKER -i docker0 -j RETURN
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:KEEP-ME - [0:0]
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -j KEEP-ME
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KEEP-ME -p tcp --dport 22 -j ACCEPT
COMMIT
"""


def iptables_save(netns, command='iptables'):
    out = subprocess.run(['ip', 'netns', 'exec', netns, command + '-save'], check=True,
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line and not line.startswith('#')]


@pytest.fixture
def kube_rules(netns):
    if not shutil.which('iptables-restore'):
        pytest.skip('needs iptables')
    subprocess.run(['ip', 'netns', 'exec', netns, 'iptables-restore'], input=KUBE_RULES, text=True, check=True)
    subprocess.run(['ip', 'netns', 'exec', netns, 'ip6tables-restore'], text=True, check=True,
                   input='*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n'
                         '-A INPUT -j KUBE-FIREWALL\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n')
    return netns


def test_remove_iptables_chains_takes_only_kubernetes_rules(host, cni, kube_rules):
    host.touch('kubelet.conf')
    wrap = ['ip', 'netns', 'exec', kube_rules]
    opts = dict(remove_iptables_chains=['KUBE-', 'CNI-', 'cali-'])
    before = iptables_save(kube_rules)
    checked = host.run('kubeadm_reset', args(host, cni, **opts), check=True, wrap=wrap)
    assert checked['changed'] is True
    assert checked['removed_iptables_chains'] == [
        dict(command='iptables', table='filter', chains=['KUBE-FORWARD']),
        dict(command='iptables', table='nat',
             chains=['CNI-HOSTPORT-DNAT', 'KUBE-POSTROUTING', 'KUBE-SERVICES', 'KUBE-SVC-ERIFXISQEP7F7OF4']),
        dict(command='ip6tables', table='filter', chains=['KUBE-FIREWALL']),
    ]
    assert iptables_save(kube_rules) == before, 'check mode changes nothing'

    result = host.run('kubeadm_reset', args(host, cni, **opts), wrap=wrap)
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert host.kubeadm_commands() == ['reset']
    after = iptables_save(kube_rules)
    assert not [line for line in after if 'KUBE-' in line or 'CNI-' in line], after
    # everything else, in order, as it was
    assert after == [line for line in before if 'KUBE-' not in line and 'CNI-' not in line]
    assert '-A KEEP-ME -p tcp -m tcp --dport 22 -j ACCEPT' in after
    assert '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE' in after
    assert iptables_save(kube_rules, 'ip6tables')[-2:] == ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT', 'COMMIT']

    again = host.run('kubeadm_reset', args(host, cni, **opts), wrap=wrap)
    assert again['changed'] is False
    assert again['removed_iptables_chains'] == []


def test_leftover_rules_alone_are_a_change_on_a_reset_host(host, cni, kube_rules):
    """A host reset by hand (kubeadm's own advice left undone): only the rules go."""
    result = host.run('kubeadm_reset', args(host, cni, remove_iptables_chains=['KUBE-']),
                      wrap=['ip', 'netns', 'exec', kube_rules])
    assert result['changed'] is True
    assert host.kubeadm_calls() == []
    assert [c['table'] for c in result['removed_iptables_chains'] if c['command'] == 'iptables'] == ['filter', 'nat']
    assert 'CNI-HOSTPORT-DNAT' in ' '.join(iptables_save(kube_rules)), 'not asked for, so kept'


def test_remove_nftables_tables(host, cni, netns):
    if not shutil.which('nft'):
        pytest.skip('needs nft')
    wrap = ['ip', 'netns', 'exec', netns]
    for family in ('ip', 'ip6'):
        subprocess.run(wrap + ['nft', 'add', 'table', family, 'kube-proxy'], check=True)
    subprocess.run(wrap + ['nft', 'add', 'table', 'inet', 'filter'], check=True)
    opts = dict(remove_nftables_tables=['ip kube-proxy', 'ip6  kube-proxy', 'inet cali-absent'])
    checked = host.run('kubeadm_reset', args(host, cni, **opts), check=True, wrap=wrap)
    assert checked['changed'] is True and checked['removed_nftables_tables'] == ['ip kube-proxy', 'ip6 kube-proxy']
    result = host.run('kubeadm_reset', args(host, cni, **opts), wrap=wrap)
    assert result['changed'] is True
    tables = subprocess.run(wrap + ['nft', 'list', 'tables'], check=True, capture_output=True, text=True).stdout
    assert tables.split('\n')[:1] == ['table inet filter'] and 'kube-proxy' not in tables
    again = host.run('kubeadm_reset', args(host, cni, **opts), wrap=wrap)
    assert again['changed'] is False and again['removed_nftables_tables'] == []
