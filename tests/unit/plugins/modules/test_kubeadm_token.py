# -*- coding: utf-8 -*-
"""Unit tests of hakube.cluster.kubeadm_token against the fake kubeadm (see fakes/)."""

import datetime
import os
import re

import pytest

from ansible_collections.hakube.cluster.plugins.modules.kubeadm_token import parse_token_objects, reusable
from fakes.harness import FakeHost, make_ca, openssl_pin

TOKEN_RE = re.compile(r'^[a-z0-9]{6}\.[a-z0-9]{16}$')
GROUP = 'system:bootstrappers:kubeadm:default-node-token'
DESCRIPTION = 'hakube join token'


@pytest.fixture(scope='session')
def ca(tmp_path_factory):
    return make_ca(str(tmp_path_factory.mktemp('ca')), 'kubernetes', key_type='rsa')


@pytest.fixture
def host(tmp_path, ca):
    """An initialised control plane: admin.conf, pki/ca.crt, an answering API server."""
    h = FakeHost(tmp_path / 'host', ca[0])
    h.touch('admin.conf', text='apiVersion: v1\nclusters:\n- cluster:\n    server: https://192.0.2.10:6443\n')
    h.install_ca()
    h.update_cluster(apiserver_ready=True, endpoint='192.0.2.10:6443')
    return h


def in_hours(hours):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def token(value, hours=2.0, description=DESCRIPTION, usages=('authentication', 'signing'), groups=(GROUP,)):
    return {'token': value, 'description': description, 'expires': in_hours(hours) if hours is not None else None,
            'usages': list(usages), 'groups': list(groups)}


def args(host, **extra):
    out = dict(kubernetes_dir=host.kdir)
    out.update(extra)
    return out


def assert_not_leaked(result, *secrets):
    """A secret may be in its own return field only, never in msg, stdout or anything else."""
    public = dict((k, v) for k, v in result.items() if k not in ('token', 'certificate_key', '_raw'))
    for secret in secrets:
        assert secret not in str(public)


def test_new_token_when_none_exists(host, ca):
    result = host.run('kubeadm_token', args(host))
    assert result.get('failed') is not True, result
    assert result['changed'] is True
    assert result['token_reused'] is False
    assert TOKEN_RE.match(result['token'])
    assert result['discovery_token_ca_cert_hash'] == openssl_pin(ca[0])
    assert result['api_server_endpoint'] == '192.0.2.10:6443'
    assert result['token_expires']
    assert host.kubeadm_commands() == ['token list', 'token create']
    created = host.kubeadm_calls()[1]['argv']
    assert created == ['token', 'create', '--kubeconfig', host.path('admin.conf'), '--ttl', '2h',
                       '--description', DESCRIPTION, '--print-join-command']
    stored = host.cluster()['tokens']
    assert [t['token'] for t in stored] == [result['token']]
    assert stored[0]['description'] == DESCRIPTION
    assert_not_leaked(result, result['token'])
    assert result['_raw'].count(result['token']) == 1


def test_token_is_reused(host):
    first = host.run('kubeadm_token', args(host))
    second = host.run('kubeadm_token', args(host))
    assert second['changed'] is False
    assert second['token_reused'] is True
    assert second['token'] == first['token']
    assert host.kubeadm_commands() == ['token list', 'token create', 'token list']


def test_token_reuse_picks_the_longest_lived(host):
    host.update_cluster(tokens=[token('aaaaaa.aaaaaaaaaaaaaaaa', 1), token('bbbbbb.bbbbbbbbbbbbbbbb', 5),
                                token('cccccc.cccccccccccccccc', 3)])
    result = host.run('kubeadm_token', args(host))
    assert result['changed'] is False
    assert result['token'] == 'bbbbbb.bbbbbbbbbbbbbbbb'


def test_token_that_never_expires_is_reused(host):
    host.update_cluster(tokens=[token('aaaaaa.aaaaaaaaaaaaaaaa', None)])
    result = host.run('kubeadm_token', args(host))
    assert result['token'] == 'aaaaaa.aaaaaaaaaaaaaaaa'
    assert result['token_expires'] is None


@pytest.mark.parametrize('unusable', [
    token('aaaaaa.aaaaaaaaaaaaaaaa', 0.25),                        # less than min_ttl (30m) left
    token('aaaaaa.aaaaaaaaaaaaaaaa', -1),                          # expired
    token('aaaaaa.aaaaaaaaaaaaaaaa', 5, description='someone else'),
    token('aaaaaa.aaaaaaaaaaaaaaaa', 5, usages=('authentication',)),
    token('aaaaaa.aaaaaaaaaaaaaaaa', 5, groups=('system:bootstrappers:other',)),
])
def test_unusable_tokens_are_not_reused(host, unusable):
    host.update_cluster(tokens=[unusable])
    result = host.run('kubeadm_token', args(host))
    assert result['changed'] is True
    assert result['token_reused'] is False
    assert result['token'] != 'aaaaaa.aaaaaaaaaaaaaaaa'


def test_min_ttl_is_honoured(host):
    host.update_cluster(tokens=[token('aaaaaa.aaaaaaaaaaaaaaaa', 1)])
    kept = host.run('kubeadm_token', args(host, min_ttl='45m'))
    assert kept['token'] == 'aaaaaa.aaaaaaaaaaaaaaaa'
    renewed = host.run('kubeadm_token', args(host, min_ttl='90m', ttl='3h'))
    assert renewed['changed'] is True
    assert renewed['token'] != 'aaaaaa.aaaaaaaaaaaaaaaa'
    assert host.kubeadm_calls()[-1]['argv'][4:6] == ['--ttl', '3h']


def test_certificate_key_is_always_changed(host):
    host.update_cluster(tokens=[token('aaaaaa.aaaaaaaaaaaaaaaa', 5)])
    result = host.run('kubeadm_token', args(host, certificate_key=True))
    assert result['changed'] is True
    assert result['token_reused'] is True
    assert re.match(r'^[0-9a-f]{64}$', result['certificate_key'])
    assert host.cluster()['certificate_keys'] == [result['certificate_key']]
    assert host.kubeadm_calls()[-1]['argv'] == ['init', 'phase', 'upload-certs', '--upload-certs',
                                                '--kubeconfig', host.path('admin.conf')]
    assert_not_leaked(result, result['certificate_key'], result['token'])


def test_certificate_key_with_config(host):
    result = host.run('kubeadm_token', args(host, certificate_key=True, config='/etc/kubernetes/kubeadm.yaml'))
    assert result['changed'] is True
    assert host.kubeadm_calls()[-1]['argv'][-2:] == ['--config', '/etc/kubernetes/kubeadm.yaml']


def test_check_mode_creates_nothing(host):
    result = host.run('kubeadm_token', args(host, certificate_key=True), check=True)
    assert result['changed'] is True
    assert 'token' not in result
    assert 'certificate_key' not in result
    assert host.kubeadm_commands() == ['token list']
    assert host.cluster()['tokens'] == []


def test_check_mode_reuses(host):
    host.update_cluster(tokens=[token('aaaaaa.aaaaaaaaaaaaaaaa', 5)])
    result = host.run('kubeadm_token', args(host), check=True)
    assert result['changed'] is False
    assert result['token'] == 'aaaaaa.aaaaaaaaaaaaaaaa'


@pytest.mark.parametrize('fail, command, words', [
    ('token-list', 'kubeadm token list', 'Unauthorized'),
    ('token-create', 'kubeadm token create', 'failed to create or update bootstrap token'),
])
def test_kubeadm_errors_are_quoted(host, fail, command, words):
    result = host.run('kubeadm_token', args(host), env={'FAKE_KUBEADM_FAIL': fail})
    assert result['failed'] is True
    assert result['msg'].startswith('%s failed (rc=1): ' % command)
    assert words in result['msg']


def test_upload_certs_failure_hides_the_token(host):
    result = host.run('kubeadm_token', args(host, certificate_key=True), env={'FAKE_KUBEADM_FAIL': 'upload-certs'})
    assert result['failed'] is True
    assert 'error execution phase upload-certs' in result['msg']
    assert 'token' not in result
    created = host.cluster()['tokens'][0]['token']
    assert created not in result['_raw']


def test_api_server_down(host):
    host.update_cluster(apiserver_ready=False)
    result = host.run('kubeadm_token', args(host))
    assert result['failed'] is True
    assert 'connection refused' in result['msg']


def test_not_a_control_plane(host):
    result = host.run('kubeadm_token', args(host, kubeconfig=host.path('nope.conf')))
    assert result['failed'] is True
    assert 'nope.conf does not exist' in result['msg']
    assert host.kubeadm_calls() == []


@pytest.mark.parametrize('options, words', [
    (dict(ttl='1h', min_ttl='2h'), 'must be shorter than ttl'),
    (dict(ttl='two hours'), 'is not a duration'),
])
def test_bad_durations(host, options, words):
    result = host.run('kubeadm_token', args(host, **options))
    assert result['failed'] is True
    assert words in result['msg']


def test_parse_token_objects_stream_and_list():
    stream = '{\n "kind": "BootstrapToken", "token": "a"\n}\n{\n "kind": "BootstrapToken", "token": "b"\n}\n'
    assert [t['token'] for t in parse_token_objects(stream)] == ['a', 'b']
    assert [t['token'] for t in parse_token_objects('[{"token": "c"}]')] == ['c']
    assert [t['token'] for t in parse_token_objects('{"kind": "List", "items": [{"token": "d"}]}')] == ['d']
    assert parse_token_objects('') == []
    with pytest.raises(ValueError):
        parse_token_objects('TOKEN TTL EXPIRES')


def test_reusable_without_tokens():
    now = datetime.datetime.now(datetime.timezone.utc)
    assert reusable([], DESCRIPTION, 1800, now) == (None, None)


@pytest.mark.parametrize('fail, options, words', [
    ('token-list:garbage', {}, 'cannot parse the output of kubeadm token list -o json'),
    ('token-create:silent', {}, 'kubeadm token create --print-join-command printed no join command'),
    ('upload-certs:silent', {'certificate_key': True}, 'kubeadm init phase upload-certs printed no certificate key'),
])
def test_unparseable_output(host, fail, options, words):
    host.update_cluster(tokens=[token('aaaaaa.aaaaaaaaaaaaaaaa', 5)] if fail == 'upload-certs:silent' else [])
    result = host.run('kubeadm_token', args(host, **options), env={'FAKE_KUBEADM_FAIL': fail})
    assert result['failed'] is True
    assert result['msg'].startswith(words)
    assert 'token' not in result


def test_missing_ca(host):
    os.unlink(host.path('pki', 'ca.crt'))
    result = host.run('kubeadm_token', args(host))
    assert result['failed'] is True
    assert 'cannot read the cluster CA' in result['msg']
    assert host.kubeadm_calls() == []
