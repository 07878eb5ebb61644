# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.kubeadm_join against the fake kubeadm/kubectl (see fakes/)."""

import json
import os
import time

import pytest

from fakes.harness import FakeHost, make_ca, openssl_pin

TOKEN = 'abcdef.0123456789abcdef'
CERT_KEY = 'f' * 64
GROUP = 'system:bootstrappers:kubeadm:default-node-token'


@pytest.fixture(scope='session')
def ca(tmp_path_factory):
    return make_ca(str(tmp_path_factory.mktemp('ca')), 'kubernetes', key_type='rsa')


@pytest.fixture
def host(tmp_path, ca):
    """A bare host; the fake cluster has a token and uploaded certificates."""
    h = FakeHost(tmp_path / 'host', ca[0])
    h.update_cluster(apiserver_ready=True, endpoint='192.0.2.10:6443', nodes=['cp-1'], certificate_keys=[CERT_KEY],
                     tokens=[{'token': TOKEN, 'description': '', 'expires': None,
                              'usages': ['authentication', 'signing'], 'groups': [GROUP]}])
    return h


def args(host, ca, **extra):
    out = dict(api_server_endpoint='192.0.2.10:6443', token=TOKEN, discovery_token_ca_cert_hash=openssl_pin(ca[0]),
               node_name='node-1', kubernetes_dir=host.kdir, etcd_data_dir=host.etcd)
    out.update(extra)
    return out


def cp_args(host, ca, **extra):
    options = dict(control_plane=True, certificate_key=CERT_KEY, node_name='cp-2')
    options.update(extra)
    return args(host, ca, **options)


def join_call(host):
    calls = [c for c in host.kubeadm_calls() if c['argv'][0] == 'join']
    assert len(calls) == 1
    return calls[0]


def assert_no_secret(result):
    assert TOKEN not in result['_raw']
    assert CERT_KEY not in result['_raw']


def test_worker_joins(host, ca):
    result = host.run('kubeadm_join', args(host, ca))
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert result['state'] == 'joined'
    assert result['joined'] is True
    assert result['stale_state_found'] == []
    assert result['node_name'] == 'node-1'
    assert os.path.isfile(host.path('kubelet.conf'))
    assert not os.path.exists(host.path('manifests', 'etcd.yaml'))
    assert 'node-1' in host.cluster()['nodes']
    assert host.kubeadm_commands() == ['join']
    assert_no_secret(result)


def test_join_configuration_file(host, ca):
    host.run('kubeadm_join', args(host, ca, cri_socket='unix:///run/containerd/containerd.sock',
                                  ignore_preflight_errors=['Swap']))
    call = join_call(host)
    argv = call['argv']
    assert argv[:2] == ['join', '--config'] and len(argv) == 3
    assert TOKEN not in ' '.join(argv)
    assert call['config_mode'] == '600'
    assert not os.path.exists(argv[2]), 'the JoinConfiguration must be removed'
    config = json.loads(call['config'])
    assert config == {
        'apiVersion': 'kubeadm.k8s.io/v1beta4',
        'kind': 'JoinConfiguration',
        'discovery': {
            'bootstrapToken': {'apiServerEndpoint': '192.0.2.10:6443', 'token': TOKEN,
                               'caCertHashes': [openssl_pin(ca[0])]},
            'tlsBootstrapToken': TOKEN,
        },
        'nodeRegistration': {'name': 'node-1', 'criSocket': 'unix:///run/containerd/containerd.sock',
                             'ignorePreflightErrors': ['Swap']},
    }


def test_extra_config_is_deep_merged(host, ca):
    extra = {'nodeRegistration': {'kubeletExtraArgs': [{'name': 'node-ip', 'value': '192.0.2.21'}],
                                  'taints': []},
             'discovery': {'timeout': '10m0s'}}
    host.run('kubeadm_join', args(host, ca, extra_config=extra))
    config = json.loads(join_call(host)['config'])
    assert config['nodeRegistration'] == {'name': 'node-1', 'taints': [],
                                          'kubeletExtraArgs': [{'name': 'node-ip', 'value': '192.0.2.21'}]}
    assert config['discovery']['timeout'] == '10m0s'
    assert config['discovery']['bootstrapToken']['token'] == TOKEN


def test_second_run_changes_nothing(host, ca):
    host.run('kubeadm_join', args(host, ca))
    result = host.run('kubeadm_join', args(host, ca))
    assert result['changed'] is False
    assert result['state'] == 'already_joined'
    assert result['joined'] is True
    assert host.kubeadm_commands() == ['join']


def test_check_mode_on_a_bare_host(host, ca):
    result = host.run('kubeadm_join', args(host, ca), check=True)
    assert result['changed'] is True
    assert result['state'] == 'would_join'
    assert result['joined'] is False
    assert host.kubeadm_calls() == []
    assert not os.path.exists(host.path('kubelet.conf'))


def test_check_mode_needs_no_token(host):
    result = host.run('kubeadm_join', dict(control_plane=True, node_name='cp-2', kubernetes_dir=host.kdir,
                                           etcd_data_dir=host.etcd), check=True)
    assert result['state'] == 'would_join'
    assert result['joined'] is False


def test_check_mode_on_a_joined_host(host, ca):
    host.run('kubeadm_join', args(host, ca))
    result = host.run('kubeadm_join', args(host, ca), check=True)
    assert result['changed'] is False
    assert result['state'] == 'already_joined'
    assert result['joined'] is True


def test_stale_kubelet_conf_is_reset_then_joined(host, ca):
    stale = host.touch('kubelet.conf')
    result = host.run('kubeadm_join', args(host, ca, cri_socket='unix:///run/containerd/containerd.sock'))
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert result['state'] == 'rejoined'
    assert result['joined'] is True
    assert result['stale_state_found'] == [stale]
    assert host.kubeadm_commands() == ['reset', 'join']
    assert host.kubeadm_calls()[0]['argv'] == ['reset', '-f', '--cri-socket', 'unix:///run/containerd/containerd.sock']


def test_reset_of_stale_state_keeps_the_load_balancer_manifests(host, ca):
    host.touch('kubelet.conf')
    for name in ('haproxy.yaml', 'keepalived.yaml', 'kube-apiserver.yaml'):
        with open(host.touch('manifests', name), 'w') as f:
            f.write('kind: Pod # %s\n' % name)
    os.chmod(host.path('manifests', 'haproxy.yaml'), 0o600)
    result = host.run('kubeadm_join', args(host, ca, ignore_preflight_errors=['DirAvailable--etc-kubernetes-manifests']))
    assert result.get('failed') is not True, result
    assert host.kubeadm_commands() == ['reset', 'join']
    # kubeadm's own manifest went with the reset; the load balancer's came back as they were
    assert not os.path.exists(host.path('manifests', 'kube-apiserver.yaml'))
    with open(host.path('manifests', 'haproxy.yaml')) as f:
        assert f.read() == 'kind: Pod # haproxy.yaml\n'
    assert os.stat(host.path('manifests', 'haproxy.yaml')).st_mode & 0o777 == 0o600
    assert os.path.isfile(host.path('manifests', 'keepalived.yaml'))


def test_stale_state_in_check_mode(host, ca):
    stale = host.touch(path=os.path.join(host.etcd, 'member', 'snap', 'db'))
    result = host.run('kubeadm_join', cp_args(host, ca), check=True)
    assert result['changed'] is True
    assert result['state'] == 'would_join'
    assert result['joined'] is False
    assert result['stale_state_found'] == [os.path.dirname(os.path.dirname(stale))]
    assert host.kubeadm_calls() == []


def test_join_killed_after_kubelet_start_then_rejoined(host, ca):
    failed = host.run('kubeadm_join', args(host, ca), env={'FAKE_KUBEADM_FAIL': 'join:kubelet-start'})
    assert failed['failed'] is True
    assert failed['changed'] is True  # kubelet.conf and pki/ca.crt were written
    assert 'kubeadm join failed (rc=1): ' in failed['msg']
    assert 'error execution phase kubelet-start' in failed['msg']
    assert_no_secret(failed)

    result = host.run('kubeadm_join', args(host, ca))
    assert result['state'] == 'rejoined'
    assert sorted(result['stale_state_found']) == sorted([host.path('kubelet.conf'), host.path('pki', 'ca.crt')])
    assert host.kubeadm_commands() == ['join', 'reset', 'join']


def test_control_plane_join_killed_before_its_label_is_rejoined(host, ca):
    # Seen in the lab: a control-plane join killed after the kubelet registered the Node
    # and etcd took the member, before mark-control-plane. Manifests and Node exist; only
    # the control-plane label shows that the join did not finish.
    failed = host.run('kubeadm_join', cp_args(host, ca), env={'FAKE_KUBEADM_FAIL': 'join:mark-control-plane'})
    assert failed['failed'] is True
    assert 'mark-control-plane' in failed['msg']

    checked = host.run('kubeadm_join', cp_args(host, ca), check=True)
    assert checked['joined'] is False
    assert checked['state'] == 'would_join'

    result = host.run('kubeadm_join', cp_args(host, ca))
    assert result.get('failed') is not True, result
    assert result['state'] == 'rejoined'
    assert host.kubeadm_commands() == ['join', 'reset', 'join']
    assert host.run('kubeadm_join', cp_args(host, ca))['state'] == 'already_joined'


def test_killed_join_is_asked_through_the_endpoint_not_the_hosts_own_api_server(host, ca):
    # Seen in the lab (kubeadm 1.36): a control-plane join killed after kubeadm pointed
    # kubelet.conf at the host's own API server; the role then removed the host's stale
    # etcd member, and that API server hung. Asked through the control-plane endpoint, the
    # Node is found without its label and the host is rejoined.
    host.run('kubeadm_join', cp_args(host, ca), env={'FAKE_KUBEADM_FAIL': 'join:mark-control-plane'})
    host.update_cluster(local_apiserver_hangs=True)
    result = host.run('kubeadm_join', cp_args(host, ca))
    assert result.get('failed') is not True, result
    assert result['state'] == 'rejoined'
    with open(host.kubectl_log) as log:
        asked = [json.loads(line) for line in log if '"node"' in line]
    assert asked and all(call[call.index('--server') + 1] == 'https://192.0.2.10:6443' for call in asked), asked


def test_without_an_endpoint_the_kubelet_conf_server_is_asked_and_a_hang_is_asked_again(host, ca):
    # Check mode on a joined host needs no endpoint: kubelet.conf's own server is asked.
    host.run('kubeadm_join', args(host, ca))
    host.update_cluster(local_apiserver_hangs=True)
    check = dict(kubernetes_dir=host.kdir, etcd_data_dir=host.etcd, node_name='node-1')
    started = time.monotonic()
    result = host.run('kubeadm_join', check, check=True)
    assert result['failed'] is True
    assert 'Unable to connect to the server: context deadline exceeded' in result['msg']
    with open(host.kubectl_log) as log:
        asked = [json.loads(line) for line in log if '"node"' in line]
    # Three tries, 5 s apart, none with --server.
    assert len(asked) == 3 and not [c for c in asked if '--server' in c], asked
    assert time.monotonic() - started >= 10
    assert host.kubeadm_commands() == ['join']


def test_kubelet_conf_without_its_client_certificate_is_stale(host, ca):
    # Seen in the lab: a join killed after kubeadm wrote kubelet.conf, before the kubelet's
    # TLS bootstrap wrote the certificate it names. kubectl cannot even ask; it is stale.
    missing = os.path.join(host.root, 'kubelet-client-current.pem')
    with open(host.touch('kubelet.conf'), 'w') as f:
        f.write('apiVersion: v1\nkind: Config\nusers:\n- name: default-auth\n  user:\n'
                '    client-certificate: %s\n    client-key: %s\n' % (missing, missing))
    result = host.run('kubeadm_join', args(host, ca))
    assert result.get('failed') is not True, result
    assert result['state'] == 'rejoined'
    assert host.kubeadm_commands() == ['reset', 'join']


def test_control_plane_joins(host, ca):
    result = host.run('kubeadm_join', cp_args(host, ca, advertise_address='192.0.2.12', bind_port=6443))
    assert result.get('failed') is not True, result
    assert result['state'] == 'joined'
    for name in ('etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'):
        assert os.path.isfile(host.path('manifests', name))
    config = json.loads(join_call(host)['config'])
    assert config['controlPlane'] == {'certificateKey': CERT_KEY,
                                      'localAPIEndpoint': {'advertiseAddress': '192.0.2.12', 'bindPort': 6443}}
    assert_no_secret(result)
    again = host.run('kubeadm_join', cp_args(host, ca))
    assert again['changed'] is False
    assert again['state'] == 'already_joined'


def test_worker_that_should_be_a_control_plane_is_rejoined(host, ca):
    host.run('kubeadm_join', args(host, ca, node_name='cp-2'))
    result = host.run('kubeadm_join', cp_args(host, ca))
    assert result['state'] == 'rejoined'
    assert host.kubeadm_commands() == ['join', 'reset', 'join']


def test_wrong_certificate_key_is_quoted(host, ca):
    result = host.run('kubeadm_join', cp_args(host, ca, certificate_key='0' * 64))
    assert result['failed'] is True
    assert 'error execution phase control-plane-prepare/download-certs' in result['msg']
    assert '0' * 64 not in result['_raw']


def test_control_plane_needs_certificate_key(host, ca):
    result = host.run('kubeadm_join', args(host, ca, control_plane=True))
    assert result['failed'] is True
    assert result['changed'] is False
    assert 'joining needs: certificate_key' in result['msg']
    assert host.kubeadm_calls() == []


def test_missing_join_parameters(host):
    result = host.run('kubeadm_join', dict(kubernetes_dir=host.kdir, etcd_data_dir=host.etcd, node_name='n'))
    assert result['failed'] is True
    assert 'api_server_endpoint, token, discovery_token_ca_cert_hash' in result['msg']


def test_unreachable_api_server_does_not_reset(host, ca):
    host.run('kubeadm_join', args(host, ca))
    host.update_cluster(apiserver_ready=False)
    result = host.run('kubeadm_join', args(host, ca))
    assert result['failed'] is True
    assert 'asking the API server whether node node-1 is registered' in result['msg']
    assert 'was refused' in result['msg']
    assert host.kubeadm_commands() == ['join']
    assert os.path.isfile(host.path('kubelet.conf'))


def test_without_kubectl_the_files_are_trusted(host, ca):
    host.run('kubeadm_join', args(host, ca))
    result = host.run('kubeadm_join', args(host, ca, kubectl_path='/nonexistent/kubectl'))
    assert result['changed'] is False
    assert result['state'] == 'already_joined'
    assert 'kubectl not found' in str(result['warnings'])


def test_wrong_ca_hash_is_quoted(host, ca):
    result = host.run('kubeadm_join', args(host, ca, discovery_token_ca_cert_hash='sha256:' + '0' * 64))
    assert result['failed'] is True
    assert 'none of the public keys' in result['msg']
    assert result['changed'] is False


def test_unknown_token_is_quoted_without_its_secret(host, ca):
    result = host.run('kubeadm_join', args(host, ca, token='zzzzzz.zzzzzzzzzzzzzzzz'))
    assert result['failed'] is True
    assert 'could not find a JWS signature in the cluster-info ConfigMap for token ID "zzzzzz"' in result['msg']
    assert 'zzzzzzzzzzzzzzzz' not in result['_raw']


def test_preflight_error_is_quoted(host, ca):
    result = host.run('kubeadm_join', args(host, ca), env={'FAKE_KUBEADM_FAIL': 'join:preflight'})
    assert result['failed'] is True
    assert result['changed'] is False
    assert '[ERROR Mem]' in result['msg']
    assert 'error execution phase preflight' in result['msg']


def test_reset_failure_is_quoted(host, ca):
    host.touch('kubelet.conf')
    result = host.run('kubeadm_join', args(host, ca), env={'FAKE_KUBEADM_FAIL': 'reset'})
    assert result['failed'] is True
    assert 'kubeadm reset -f (to clear a stale earlier join) failed' in result['msg']
    assert host.kubeadm_commands() == ['reset']


def test_timeout_removes_the_config_file(host, ca):
    tmp = os.path.join(host.root, 'tmp')
    os.mkdir(tmp)
    result = host.run('kubeadm_join', args(host, ca, timeout=1), env={'FAKE_KUBEADM_SLEEP': '5', 'TMPDIR': tmp})
    assert result['failed'] is True
    assert 'kubeadm join did not finish in time' in result['msg']
    assert os.listdir(tmp) == []
