# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.kubeadm_init against the fake kubeadm/kubectl (see fakes/)."""

import http.server
import json
import os
import socket
import ssl
import threading

import pytest
import yaml

from fakes.harness import FakeHost, make_ca, make_cert, openssl_pin

INIT_CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
nodeRegistration:
  name: cp-1
localAPIEndpoint:
  advertiseAddress: 192.0.2.11
  bindPort: 6443
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.2
controlPlaneEndpoint: 192.0.2.10
networking:
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
  dnsDomain: cluster.local
apiServer:
  certSANs: [192.0.2.10, api.example.test]
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
"""


@pytest.fixture(scope='session')
def ca(tmp_path_factory):
    return make_ca(str(tmp_path_factory.mktemp('ca')), 'kubernetes', key_type='rsa')


@pytest.fixture
def host(tmp_path, ca):
    return FakeHost(tmp_path / 'host', ca[0])


@pytest.fixture
def config(host):
    path = os.path.join(host.root, 'kubeadm-init.yaml')
    with open(path, 'w') as f:
        f.write(INIT_CONFIG)
    return path


def args(host, config, **extra):
    # The endpoint of INIT_CONFIG (192.0.2.10, on this machine's own subnet) never
    # answers; the endpoint check has tests of its own below, with a server that does.
    out = dict(config=config, kubernetes_dir=host.kdir, etcd_data_dir=host.etcd, check_endpoint=False)
    out.update(extra)
    return out


def secrets_of(host):
    cluster = host.cluster()
    return [t['token'] for t in cluster['tokens']] + cluster['certificate_keys']


def test_fresh_host_is_initialised(host, config, ca):
    result = host.run('kubeadm_init', args(host, config))
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert result['state'] == 'initialized'
    assert result['api_server_endpoint'] == '192.0.2.10:6443'
    assert result['discovery_token_ca_cert_hash'] == openssl_pin(ca[0])
    assert result['stale_state_found'] == []
    assert host.kubeadm_commands() == ['init']
    argv = host.kubeadm_calls()[0]['argv']
    assert argv == ['init', '--config', config, '--upload-certs']
    for name in ('admin.conf', 'kubelet.conf', 'pki/ca.crt', 'manifests/kube-apiserver.yaml', 'manifests/etcd.yaml'):
        assert os.path.isfile(host.path(name)), name
    assert os.path.isdir(os.path.join(host.etcd, 'member'))


def test_secrets_never_returned_by_init(host, config):
    result = host.run('kubeadm_init', args(host, config))
    assert result['state'] == 'initialized'
    secrets = secrets_of(host)
    assert len(secrets) == 2  # the default token and the certificate key
    for secret in secrets:
        assert secret not in result['_raw']
    assert '--token <redacted>' in result['stdout']
    assert 'Using certificate key:\n<redacted>' in result['stdout']
    assert 'discovery-token-ca-cert-hash sha256:' in result['stdout']


def test_second_run_changes_nothing(host, config):
    host.run('kubeadm_init', args(host, config))
    result = host.run('kubeadm_init', args(host, config))
    assert result['changed'] is False
    assert result['state'] == 'already_initialized'
    assert result['config_drift'] == {}
    assert result['drift_not_applicable_in_place'] == []
    assert host.kubeadm_commands() == ['init']
    assert 'stdout' not in result


def test_check_mode_runs_nothing(host, config):
    result = host.run('kubeadm_init', args(host, config), check=True)
    assert result['changed'] is True
    assert result['state'] == 'would_initialize'
    assert host.kubeadm_calls() == []
    assert not os.path.exists(host.path('admin.conf'))
    assert 'discovery_token_ca_cert_hash' not in result


def test_check_mode_on_initialised_cluster(host, config):
    host.run('kubeadm_init', args(host, config))
    result = host.run('kubeadm_init', args(host, config), check=True)
    assert result['changed'] is False
    assert result['state'] == 'already_initialized'


def test_flags_follow_options(host, config):
    result = host.run('kubeadm_init', args(host, config, upload_certs=False,
                                           ignore_preflight_errors=['NumCPU', 'Mem']))
    assert result['state'] == 'initialized'
    assert host.kubeadm_calls()[0]['argv'] == ['init', '--config', config, '--ignore-preflight-errors=NumCPU,Mem']
    assert host.cluster()['certificate_keys'] == []


def test_preflight_error_is_quoted(host, config):
    result = host.run('kubeadm_init', args(host, config), env={'FAKE_KUBEADM_FAIL': 'init:preflight'})
    assert result['failed'] is True
    assert result['changed'] is False
    assert result['msg'].startswith('kubeadm init failed (rc=1): ')
    assert 'error execution phase preflight' in result['msg']
    assert '[ERROR Mem]: the system RAM (512 MB) is less than the minimum 1700 MB' in result['msg']


def test_ignored_preflight_error_is_a_warning(host, config):
    result = host.run('kubeadm_init', args(host, config, ignore_preflight_errors=['Mem']),
                      env={'FAKE_KUBEADM_FAIL': 'init:preflight'})
    assert result['state'] == 'initialized'
    assert '[WARNING Mem]' in result['stdout']


@pytest.mark.parametrize('leftover', ['manifests', 'etcd', 'kubelet'])
def test_half_initialised_host_fails_without_recover(host, config, leftover):
    if leftover == 'manifests':
        stale = host.touch('manifests', 'kube-apiserver.yaml')
    elif leftover == 'etcd':
        stale = host.touch(path=os.path.join(host.etcd, 'member', 'snap', 'db'))
        stale = os.path.dirname(os.path.dirname(stale))
    else:
        stale = host.touch('kubelet.conf')
    result = host.run('kubeadm_init', args(host, config))
    assert result['failed'] is True
    assert result['changed'] is False
    assert 'half-initialised' in result['msg']
    assert stale in result['msg']
    assert 'recover=true' in result['msg']
    assert result['stale_state_found'] == [stale]
    assert host.kubeadm_calls() == []
    assert os.path.exists(stale)


def test_recover_resets_and_initialises(host, config):
    host.touch('manifests', 'etcd.yaml')
    host.touch(path=os.path.join(host.etcd, 'member', 'wal', '0.wal'))
    result = host.run('kubeadm_init', args(host, config, recover=True))
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert result['state'] == 'recovered'
    assert host.kubeadm_commands() == ['reset', 'init']
    assert host.kubeadm_calls()[0]['argv'] == ['reset', '-f']
    assert not os.path.exists(os.path.join(host.etcd, 'member', 'wal', '0.wal'))
    assert os.path.isfile(host.path('admin.conf'))


def test_recover_keeps_the_load_balancer_manifests(host, config):
    host.touch('manifests', 'etcd.yaml')
    with open(host.touch('manifests', 'keepalived.yaml'), 'w') as f:
        f.write('kind: Pod\n')
    result = host.run('kubeadm_init', args(host, config, recover=True))
    assert result['state'] == 'recovered'
    assert host.kubeadm_commands() == ['reset', 'init']
    with open(host.path('manifests', 'keepalived.yaml')) as f:
        assert f.read() == 'kind: Pod\n'


def test_recover_in_check_mode_runs_nothing(host, config):
    stale = host.touch('manifests', 'etcd.yaml')
    result = host.run('kubeadm_init', args(host, config, recover=True), check=True)
    assert result['changed'] is True
    assert result['state'] == 'would_initialize'
    assert result['stale_state_found'] == [stale]
    assert host.kubeadm_calls() == []
    assert os.path.exists(stale)


def test_api_server_that_never_came_up(host, config):
    failed = host.run('kubeadm_init', args(host, config), env={'FAKE_KUBEADM_FAIL': 'init:wait-control-plane'})
    assert failed['failed'] is True
    assert 'error execution phase wait-control-plane' in failed['msg']
    assert os.path.isfile(host.path('admin.conf'))

    again = host.run('kubeadm_init', args(host, config, api_server_wait=0))
    assert again['failed'] is True
    assert 'admin.conf exists but the API server does not answer' in again['msg']
    assert 'was refused' in again['msg']

    recovered = host.run('kubeadm_init', args(host, config, recover=True, api_server_wait=0))
    assert recovered['changed'] is True
    assert recovered['state'] == 'recovered'
    assert host.kubeadm_commands() == ['init', 'reset', 'init']


def test_init_that_stopped_after_the_api_server_came_up(host, config):
    # Seen in the lab with kubeadm v1.36.3: the API server came up, but init timed out
    # binding the admin user, so admin.conf is refused and nothing after it was done.
    failed = host.run('kubeadm_init', args(host, config), env={'FAKE_KUBEADM_FAIL': 'init:bootstrap-admin'})
    assert failed['failed'] is True
    assert 'could not bootstrap the admin user' in failed['msg']

    again = host.run('kubeadm_init', args(host, config, api_server_wait=0))
    assert again['failed'] is True
    assert again['changed'] is False
    assert 'the API server answers, but kubeadm init did not finish' in again['msg']
    assert 'Error from server (Forbidden)' in again['msg']
    assert host.path('admin.conf') in again['stale_state_found']
    assert host.kubeadm_commands() == ['init']

    checked = host.run('kubeadm_init', args(host, config, recover=True), check=True)
    assert checked['changed'] is True
    assert checked['state'] == 'would_initialize'
    assert host.kubeadm_commands() == ['init']

    recovered = host.run('kubeadm_init', args(host, config, recover=True))
    assert recovered.get('failed') is not True, recovered
    assert recovered['state'] == 'recovered'
    assert host.kubeadm_commands() == ['init', 'reset', 'init']
    assert host.run('kubeadm_init', args(host, config))['state'] == 'already_initialized'


def test_missing_kubeadm_config_configmap_is_an_unfinished_init(host, config):
    host.run('kubeadm_init', args(host, config))
    cluster = host.cluster()
    del cluster['cluster_configuration']
    host.set_cluster(cluster)
    result = host.run('kubeadm_init', args(host, config, api_server_wait=0))
    assert result['failed'] is True
    assert 'configmaps "kubeadm-config" not found' in result['msg']
    assert host.kubeadm_commands() == ['init']


def test_recover_fails_when_reset_fails(host, config):
    host.touch('manifests', 'etcd.yaml')
    result = host.run('kubeadm_init', args(host, config, recover=True), env={'FAKE_KUBEADM_FAIL': 'reset'})
    assert result['failed'] is True
    assert 'kubeadm reset -f (to recover a half-initialised host) failed (rc=1)' in result['msg']
    assert 'device or resource busy' in result['msg']
    assert host.kubeadm_commands() == ['reset']


def test_ca_alone_is_not_half_initialised(host, config):
    host.install_ca()
    result = host.run('kubeadm_init', args(host, config))
    assert result['state'] == 'initialized'


def test_drift_is_reported_and_diffed(host, config):
    host.run('kubeadm_init', args(host, config))
    live = yaml.safe_load(host.cluster()['cluster_configuration'])
    live['networking']['podSubnet'] = '10.200.0.0/16'
    live['apiServer']['certSANs'] = ['192.0.2.10']
    live['featureGates'] = {'SomeDefault': True}  # set by kubeadm, not in the wanted config: no drift
    host.update_cluster(cluster_configuration=yaml.safe_dump(live))

    result = host.run('kubeadm_init', args(host, config), diff=True)
    assert result['changed'] is False
    assert result['state'] == 'already_initialized'
    assert result['config_drift'] == {
        'apiServer.certSANs': {'wanted': ['192.0.2.10', 'api.example.test'], 'current': ['192.0.2.10']},
        'networking.podSubnet': {'wanted': '10.244.0.0/16', 'current': '10.200.0.0/16'},
    }
    assert result['drift_not_applicable_in_place'] == ['networking.podSubnet']
    assert "networking.podSubnet: '10.200.0.0/16'" in result['diff']['before']
    assert "networking.podSubnet: '10.244.0.0/16'" in result['diff']['after']

    no_diff = host.run('kubeadm_init', args(host, config))
    assert 'diff' not in no_diff
    assert no_diff['config_drift'] == result['config_drift']


def test_unreadable_configmap_is_a_warning(host, config):
    host.run('kubeadm_init', args(host, config))
    host.update_cluster(cluster_configuration=': not yaml: [')
    result = host.run('kubeadm_init', args(host, config))
    assert result['changed'] is False
    assert result['config_drift'] == {}
    assert 'kubeadm-config ConfigMap holds no readable ClusterConfiguration' in str(result.get('warnings'))


def test_missing_config_file(host):
    result = host.run('kubeadm_init', args(host, os.path.join(host.root, 'nope.yaml')))
    assert result['failed'] is True
    assert 'does not exist' in result['msg']


def test_config_without_cluster_configuration(host):
    path = os.path.join(host.root, 'partial.yaml')
    with open(path, 'w') as f:
        f.write('apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n')
    result = host.run('kubeadm_init', args(host, path))
    assert result['failed'] is True
    assert 'holds no ClusterConfiguration' in result['msg']


def test_kubeadm_timeout(host, config):
    result = host.run('kubeadm_init', args(host, config, timeout=1), env={'FAKE_KUBEADM_SLEEP': '5'})
    assert result['failed'] is True
    assert 'kubeadm init did not finish in time' in result['msg']


def test_kubeadm_missing(host, config):
    result = host.run('kubeadm_init', args(host, config, kubeadm_path='/nonexistent/kubeadm'))
    assert result['failed'] is True
    assert '/nonexistent/kubeadm is not an executable file' in result['msg']


def test_api_server_is_asked_again_before_giving_up(host, config):
    host.run('kubeadm_init', args(host, config))
    host.update_cluster(apiserver_ready=False)
    result = host.run('kubeadm_init', args(host, config, api_server_wait=6))
    assert result['failed'] is True
    with open(host.kubectl_log) as f:
        readyz = [line for line in f if '--raw=/readyz' in line]
    assert len(readyz) == 1 + 2, 'asked at once, after 5 s, and once more when the 6 s were over'


def test_admin_conf_without_kubectl_is_never_reset(host, config):
    host.run('kubeadm_init', args(host, config))
    result = host.run('kubeadm_init', args(host, config, recover=True, kubectl_path='/nonexistent/kubectl'))
    assert result['failed'] is True
    assert 'kubectl (/nonexistent/kubectl) was not found' in result['msg']
    assert host.kubeadm_commands() == ['init']


def test_unreadable_config_file(host):
    path = os.path.join(host.root, 'broken.yaml')
    with open(path, 'w') as f:
        f.write('kind: [unclosed\n')
    result = host.run('kubeadm_init', args(host, path))
    assert result['failed'] is True
    assert result['msg'].startswith('cannot read kubeadm config file %s: ' % path)


def test_endpoint_from_admin_conf_when_config_has_none(host):
    path = os.path.join(host.root, 'bare.yaml')
    with open(path, 'w') as f:
        f.write('apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n')
    result = host.run('kubeadm_init', args(host, path))
    assert result['state'] == 'initialized'
    assert result['api_server_endpoint'] == '192.0.2.10:6443'  # the server in the admin.conf kubeadm wrote


def test_broken_ca_is_reported(host, config):
    host.run('kubeadm_init', args(host, config))
    host.touch('pki', 'ca.crt', text='garbage')
    result = host.run('kubeadm_init', args(host, config))
    assert result['failed'] is True
    assert 'cannot read the cluster CA' in result['msg']


# ---------------------------------------------------------------- the endpoint check
class _ApiServerStandIn(http.server.BaseHTTPRequestHandler):
    """Stands in for what a kube-apiserver behind the VIP answers to ``GET /version``
    over TLS: 200 with the version JSON (``major``, ``minor``, ``gitVersion``, ...) when
    anonymous requests may read it (the default, system:public-info-viewer), or 401 with
    a ``kind: Status`` body when anonymous auth is off. ``server.answer`` picks one;
    ``not-kubernetes`` is some other HTTPS server's 404 page."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        answer = self.server.answer
        if answer == 'version':
            code, body = 200, {'major': '1', 'minor': '36', 'gitVersion': 'v1.36.3', 'platform': 'linux/amd64'}
        elif answer == 'unauthorized':
            code, body = 401, {'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure',
                               'message': 'Unauthorized', 'reason': 'Unauthorized', 'code': 401}
        else:
            code, body = 404, None
        data = json.dumps(body).encode() if body else b'<html>not found</html>'
        self.send_response(code)
        self.send_header('Content-Type', 'application/json' if body else 'text/html')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.server.requests.append(self.path)

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def server_cert(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp('apiserver'))
    ca_crt, ca_key = make_ca(directory, 'other-cluster-ca')
    return make_cert(directory, 'apiserver', ca_crt, ca_key, san='IP:127.0.0.1')


@pytest.fixture
def endpoint(request, server_cert):
    """127.0.0.1:<port> answering as ``request.param`` says: an HTTPS server (see
    _ApiServerStandIn) or, for ``closes``, a TCP listener that accepts and closes at once,
    which is what haproxy in TCP mode does when no backend is up."""
    answer = request.param
    if answer == 'closes':
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(8)
        stop = threading.Event()

        def accept():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn = listener.accept()[0]
                except socket.timeout:
                    continue
                conn.close()
        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield '127.0.0.1:%d' % listener.getsockname()[1], []
        stop.set()
        thread.join()
        listener.close()
        return
    server = http.server.HTTPServer(('127.0.0.1', 0), _ApiServerStandIn)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert[0], server_cert[1])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.answer = answer
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield '127.0.0.1:%d' % server.server_address[1], server.requests
    server.shutdown()
    server.server_close()


def _config_at(host, endpoint):
    path = os.path.join(host.root, 'kubeadm-init-%s.yaml' % endpoint.rsplit(':', 1)[1])
    with open(path, 'w') as f:
        f.write(INIT_CONFIG.replace('controlPlaneEndpoint: 192.0.2.10', 'controlPlaneEndpoint: "%s"' % endpoint))
    return path


@pytest.mark.parametrize('endpoint, found', [('version', 'v1.36.3'), ('unauthorized', 'unknown version')],
                         indirect=['endpoint'])
@pytest.mark.parametrize('check', [True, False], ids=['check_mode', 'apply'])
def test_an_api_server_at_the_endpoint_stops_the_init(host, endpoint, found, check):
    """A control plane that was reset (or a new first host) must not init a second
    cluster behind the VIP that the running control planes already serve."""
    address, requests = endpoint
    result = host.run('kubeadm_init', dict(config=_config_at(host, address), kubernetes_dir=host.kdir,
                                           etcd_data_dir=host.etcd), check=check)
    assert result.get('failed') is True, result
    assert result['changed'] is False
    assert result['endpoint_answered'] == found
    assert 'second cluster' in result['msg'] and address in result['msg']
    assert 'Join this host' in result['msg']
    assert requests == ['/version']
    assert host.kubeadm_calls() == []
    assert not os.path.exists(os.path.join(host.kdir, 'admin.conf'))


@pytest.mark.parametrize('endpoint', ['closes', 'not-kubernetes'], indirect=True)
def test_no_api_server_at_the_endpoint_lets_the_init_run(host, endpoint):
    address = endpoint[0]
    result = host.run('kubeadm_init', dict(config=_config_at(host, address), kubernetes_dir=host.kdir,
                                           etcd_data_dir=host.etcd))
    assert result.get('failed') is not True, result
    assert result['state'] == 'initialized'
    assert [c['argv'][0] for c in host.kubeadm_calls()] == ['init']


@pytest.mark.parametrize('endpoint', ['version'], indirect=True)
def test_the_endpoint_is_not_asked_when_this_host_runs_the_cluster(host, endpoint):
    """On a converged cluster the endpoint answers with this host's own API server."""
    address, requests = endpoint
    config = _config_at(host, address)
    assert host.run('kubeadm_init', args(host, config))['state'] == 'initialized'
    again = host.run('kubeadm_init', dict(config=config, kubernetes_dir=host.kdir, etcd_data_dir=host.etcd))
    assert again['state'] == 'already_initialized'
    assert requests == []


@pytest.mark.parametrize('endpoint', ['version'], indirect=True)
@pytest.mark.parametrize('check', [True, False], ids=['check_mode', 'apply'])
def test_endpoint_in_use_report_initialises_nothing(host, endpoint, check):
    """endpoint_in_use=report: the role is told that another control plane runs the
    cluster, and joins this host; nothing is run or written here."""
    address, requests = endpoint
    result = host.run('kubeadm_init', dict(config=_config_at(host, address), kubernetes_dir=host.kdir,
                                           etcd_data_dir=host.etcd, endpoint_in_use='report'), check=check)
    assert result.get('failed') is not True, result
    assert result['changed'] is False
    assert result['state'] == 'endpoint_in_use'
    assert result['endpoint_answered'] == 'v1.36.3'
    assert result['api_server_endpoint'] == address
    assert requests == ['/version']
    assert host.kubeadm_calls() == []
    assert not os.path.exists(os.path.join(host.kdir, 'admin.conf'))


@pytest.mark.parametrize('endpoint', ['version'], indirect=True)
@pytest.mark.parametrize('mode', ['fail', 'report'])
def test_leftovers_are_not_reset_when_the_endpoint_answers(host, endpoint, mode):
    """A host with what a killed join left (kubelet.conf, an etcd manifest) and the
    cluster running elsewhere: neither the half-initialised failure nor, with recover,
    a reset and a second cluster; the endpoint is asked first."""
    address = endpoint[0]
    stale = host.touch('kubelet.conf')
    host.touch('manifests', 'etcd.yaml')
    result = host.run('kubeadm_init', dict(config=_config_at(host, address), kubernetes_dir=host.kdir,
                                           etcd_data_dir=host.etcd, recover=True, endpoint_in_use=mode))
    assert host.kubeadm_calls() == []
    assert os.path.exists(stale)
    assert stale in result['stale_state_found']
    if mode == 'report':
        assert result.get('failed') is not True, result
        assert result['state'] == 'endpoint_in_use'
    else:
        assert result['failed'] is True
        assert 'second cluster' in result['msg'] and 'half-initialised' not in result['msg']


@pytest.mark.parametrize('endpoint', ['version'], indirect=True)
def test_an_unfinished_init_of_this_host_is_not_taken_for_another_cluster(host, endpoint):
    """admin.conf refused (Forbidden): the API server that answers is this host's own,
    half-made cluster. The endpoint is not asked; recover resets and initialises."""
    address, requests = endpoint
    config = _config_at(host, address)
    failed = host.run('kubeadm_init', args(host, config), env={'FAKE_KUBEADM_FAIL': 'init:bootstrap-admin'})
    assert failed['failed'] is True
    recovered = host.run('kubeadm_init', dict(config=config, kubernetes_dir=host.kdir, etcd_data_dir=host.etcd,
                                              recover=True, endpoint_in_use='report'))
    assert recovered.get('failed') is not True, recovered
    assert recovered['state'] == 'recovered'
    assert requests == []
    assert host.kubeadm_commands() == ['init', 'reset', 'init']
