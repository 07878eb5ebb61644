# -*- coding: utf-8 -*-
"""A stand-in for the ``kubeadm`` binary, for the unit tests of the kubeadm_* modules.

It models what the modules can observe of real kubeadm: the files it writes under the
kubernetes dir (``admin.conf``, ``kubelet.conf``, ``pki/ca.crt``, ``manifests/*.yaml``)
and the etcd data dir, its exit codes, and its stdout/stderr. A JSON file plays the
cluster (bootstrap tokens, registered nodes, the kubeadm-config ClusterConfiguration,
uploaded certificate keys, whether the API server answers); ``fake_kubectl.py`` reads
the same file.

Environment (set by the tests; see harness.py):

* ``FAKE_KUBERNETES_DIR``, ``FAKE_ETCD_DATA_DIR``: stand for /etc/kubernetes and /var/lib/etcd.
* ``FAKE_CLUSTER``: the cluster state JSON file.
* ``FAKE_CA_CERT``: a real CA certificate (made with openssl) that init and join install as
  ``pki/ca.crt``; its pin is computed with the openssl command line, independently of the
  module's own DER parser.
* ``FAKE_KUBEADM_LOG``: every call is appended as a JSON line (argv, and for ``join`` the
  config file's mode and content as kubeadm saw them).
* ``FAKE_KUBEADM_FAIL``: make one command fail: ``init:preflight`` (forced preflight error),
  ``init:wait-control-plane`` (files written, API server never up: half-initialised),
  ``init:bootstrap-admin`` (API server up, but the admin ClusterRoleBinding and everything
  after it never made: admin.conf is Forbidden, no kubeadm-config ConfigMap; the message is
  the one kubeadm v1.36.3 printed in this project's lab when that happened),
  ``join:preflight``, ``join:kubelet-start`` (kubelet.conf written, node never registered),
  ``join:mark-control-plane`` (a control plane registered with its manifests, but without the
  control-plane label: a join killed after the kubelet started and etcd grew, as in the lab),
  ``reset``, ``token-list``, ``token-create``, ``upload-certs``; ``token-list:garbage`` (the text
  table where JSON was asked for), ``token-create:silent`` and ``upload-certs:silent`` (exit 0,
  print nothing: output the modules cannot parse).
* ``FAKE_KUBEADM_SLEEP``: seconds to sleep before doing anything (timeouts).

Where each output format was checked (kubernetes/kubernetes, cmd/kubeadm):

* Errors: the phase runner wraps a phase's error as ``error execution phase <phase>: ...``
  (app/cmd/phases/workflow/runner.go, ``errors.Wrapf(err, "error execution phase %s", ...)``);
  preflight errors are ``[preflight] Some fatal errors occurred:`` followed by one
  ``\\t[ERROR <Check>]: <text>`` line per check and ``[preflight] If you know what you are doing,
  you can make a check non-fatal with `--ignore-preflight-errors=...``` (app/preflight/checks.go,
  ``Error.Error()`` and ``RunChecks``); kubeadm then prints ``To see the stack trace of this
  error execute with --v=5 or higher`` and exits 1. Check names such as
  ``FileAvailable--etc-kubernetes-kubelet.conf`` and ``DirAvailable--var-lib-etcd`` are the
  ones users report (e.g. "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]").
* ``kubeadm token list -o json``: one JSON object per token, printed one after another,
  ``{"kind": "BootstrapToken", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "token": ...,
  "description": ..., "expires": ..., "usages": [...], "groups": [...]}``
  (app/cmd/token_test.go ``TestTokenOutput``; the text form with the header
  ``TOKEN TTL EXPIRES USAGES DESCRIPTION EXTRA GROUPS`` from ``formatBootstrapToken`` in
  app/cmd/token.go).
* ``kubeadm token create --print-join-command`` and the join lines of ``kubeadm init``: the
  template ``kubeadm join {{.ControlPlaneHostPort}} --token {{.Token}} \\`` /
  ``--discovery-token-ca-cert-hash {{$h}} `` [``--control-plane --certificate-key ...``]
  (app/cmd/util/join.go); ``--print-join-command`` strips the backslash-newlines and tabs
  (app/cmd/token.go ``RunCreateToken``).
* ``kubeadm init phase upload-certs --upload-certs``: ``[upload-certs] Storing the certificates
  in Secret "kubeadm-certs" in the "kube-system" Namespace`` then
  ``kubeadmlog.Infof("[upload-certs] Using certificate key:\\n%s\\n", key)``, the 64-hex key on the
  next line (app/cmd/phases/init/uploadcerts.go ``runUploadCerts``; the same lines appear in
  published ``kubeadm init --upload-certs`` logs). Its flags ``--config``, ``--kubeconfig``
  (default /etc/kubernetes/admin.conf), ``--upload-certs``: kubernetes.io reference page
  "kubeadm init phase upload-certs" (v1.29-v1.31).
* ``kubeadm token list``: ``-o``/``--output`` with ``json`` (kubernetes.io reference page
  "kubeadm token list").
* The JoinConfiguration it reads: ``kubeadm.k8s.io/v1beta4`` fields ``discovery.bootstrapToken
  {token, apiServerEndpoint, caCertHashes}``, ``discovery.tlsBootstrapToken``,
  ``nodeRegistration {name, criSocket, ignorePreflightErrors}``, ``controlPlane
  {localAPIEndpoint {advertiseAddress, bindPort}, certificateKey}``
  (app/apis/kubeadm/v1beta4/types.go).
"""

import datetime
import json
import os
import random
import secrets
import string
import subprocess
import sys
import time

import yaml

KDIR = os.environ.get('FAKE_KUBERNETES_DIR', '/nonexistent/etc/kubernetes')
ETCD = os.environ.get('FAKE_ETCD_DATA_DIR', '/nonexistent/var/lib/etcd')
CLUSTER = os.environ.get('FAKE_CLUSTER', '')
FAIL = os.environ.get('FAKE_KUBEADM_FAIL', '')
VERSION = 'v1.31.2'
MANIFESTS = ('etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml')
DEFAULT_GROUP = 'system:bootstrappers:kubeadm:default-node-token'
STACK_HINT = 'To see the stack trace of this error execute with --v=5 or higher'


def load_cluster():
    with open(CLUSTER) as f:
        return json.load(f)


def save_cluster(cluster):
    with open(CLUSTER, 'w') as f:
        json.dump(cluster, f, indent=1)


def log(entry):
    path = os.environ.get('FAKE_KUBEADM_LOG')
    if path:
        with open(path, 'a') as f:
            f.write(json.dumps(entry) + '\n')


def die(message, rc=1):
    sys.stderr.write(message.rstrip('\n') + '\n' + STACK_HINT + '\n')
    sys.exit(rc)


def flag(argv, name, default=None):
    """Value of --name value or --name=value."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + '='):
            return arg.split('=', 1)[1]
    return default


def new_token():
    alphabet = string.ascii_lowercase + string.digits
    return '%s.%s' % (''.join(random.choices(alphabet, k=6)), ''.join(random.choices(alphabet, k=16)))


def ca_pin():
    """sha256 pin of pki/ca.crt the way the kubeadm docs compute it with openssl."""
    pub = subprocess.run(['openssl', 'x509', '-pubkey', '-noout', '-in', os.path.join(KDIR, 'pki', 'ca.crt')],
                         capture_output=True, check=True).stdout
    der = subprocess.run(['openssl', 'pkey', '-pubin', '-outform', 'der'], input=pub,
                         capture_output=True, check=True).stdout
    digest = subprocess.run(['openssl', 'dgst', '-sha256', '-hex'], input=der,
                            capture_output=True, check=True).stdout.decode()
    return 'sha256:' + digest.strip().split()[-1]


def write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def kubeconfig(endpoint, user):
    return ('apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: Zm9v\n'
            '    server: https://%s\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n'
            '    user: %s\n  name: %s@kubernetes\ncurrent-context: %s@kubernetes\nusers:\n- name: %s\n'
            '  user: {}\n' % (endpoint, user, user, user, user))


def install_ca():
    with open(os.environ['FAKE_CA_CERT']) as f:
        write(os.path.join(KDIR, 'pki', 'ca.crt'), f.read(), 0o644)


def write_control_plane(endpoint, node):
    for name in MANIFESTS:
        write(os.path.join(KDIR, 'manifests', name), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s-%s\n'
              % (name[:-5], node))
    write(os.path.join(KDIR, 'admin.conf'), kubeconfig(endpoint, 'kubernetes-admin'))
    write(os.path.join(ETCD, 'member', 'snap', 'db'), 'etcd-data')


def preflight(command, checks, ignored):
    """checks: list of (name, text). Fails the kubeadm way unless ignored."""
    if FAIL == command + ':preflight':
        checks = checks + [('Mem', 'the system RAM (512 MB) is less than the minimum 1700 MB')]
    ignored = set(i.lower() for i in ignored)
    fatal = [(n, t) for n, t in checks if n.lower() not in ignored and 'all' not in ignored]
    print('[preflight] Running pre-flight checks')
    for name, text in checks:
        if (name, text) not in fatal:
            print('\t[WARNING %s]: %s' % (name, text))
    if fatal:
        lines = ''.join('\t[ERROR %s]: %s\n' % (n, t) for n, t in fatal)
        die('error execution phase preflight: [preflight] Some fatal errors occurred:\n%s'
            '[preflight] If you know what you are doing, you can make a check non-fatal with '
            '`--ignore-preflight-errors=...`' % lines)


def existing_file_checks(control_plane, joining=True):
    checks = []
    paths = [os.path.join(KDIR, 'kubelet.conf')]
    if joining:  # init uses an existing CA ("Using existing ca certificate authority")
        paths.append(os.path.join(KDIR, 'pki', 'ca.crt'))
    if control_plane:
        paths += [os.path.join(KDIR, 'manifests', m) for m in MANIFESTS]
    for path in paths:
        if os.path.exists(path):
            checks.append(('FileAvailable-' + path.replace('/', '-'), '%s already exists' % path))
    member = os.path.join(ETCD, 'member')
    if control_plane and os.path.isdir(member) and os.listdir(member):
        checks.append(('DirAvailable-' + ETCD.replace('/', '-'), '%s is not empty' % ETCD))
    return checks


def join_lines(endpoint, token, pin, certificate_key=None):
    text = 'kubeadm join %s --token %s \\\n\t--discovery-token-ca-cert-hash %s ' % (endpoint, token, pin)
    if certificate_key:
        text += '\\\n\t--control-plane --certificate-key %s' % certificate_key
    return text


def expiry(ttl_seconds):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl_seconds)
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_ttl(text):
    units = {'s': 1, 'm': 60, 'h': 3600}
    total, number = 0, ''
    for char in text:
        if char.isdigit():
            number += char
        else:
            total += int(number) * units[char]
            number = ''
    return total + (int(number) if number else 0)


def cmd_init(argv):
    config_path = flag(argv, '--config')
    with open(config_path) as f:
        docs = {d['kind']: d for d in yaml.safe_load_all(f) if d}
    cluster_cfg = docs['ClusterConfiguration']
    endpoint = cluster_cfg.get('controlPlaneEndpoint', '192.0.2.10:6443')
    if ':' not in endpoint:
        endpoint += ':6443'
    node = (docs.get('InitConfiguration', {}).get('nodeRegistration') or {}).get('name', 'cp-1')
    print('[init] Using Kubernetes version: %s' % VERSION)
    ignored = (flag(argv, '--ignore-preflight-errors', '') or '').split(',')
    preflight('init', existing_file_checks(True, joining=False), ignored)
    print('[certs] Using certificateDir folder "%s"' % os.path.join(KDIR, 'pki'))
    install_ca()
    write(os.path.join(KDIR, 'kubelet.conf'), kubeconfig(endpoint, 'system:node:' + node))
    write_control_plane(endpoint, node)
    print('[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods '
          'from directory "%s"' % os.path.join(KDIR, 'manifests'))
    if FAIL == 'init:wait-control-plane':
        die('[api-check] The API server is not healthy after 4m0s\n'
            'error execution phase wait-control-plane: could not initialize a Kubernetes cluster')
    cluster = load_cluster()
    if FAIL == 'init:bootstrap-admin':
        cluster.update(apiserver_ready=True, endpoint=endpoint, admin_forbidden=True)
        cluster.pop('cluster_configuration', None)
        save_cluster(cluster)
        die('error execution phase wait-control-plane: cannot obtain client without bootstrap: could not '
            'bootstrap the admin user in file admin.conf: unable to create ClusterRoleBinding: client rate '
            'limiter Wait returned an error: context deadline exceeded')
    cluster.pop('admin_forbidden', None)
    cluster['apiserver_ready'] = True
    cluster['endpoint'] = endpoint
    cluster['cluster_configuration'] = yaml.safe_dump(cluster_cfg)
    cluster.setdefault('nodes', []).append(node)
    cluster.setdefault('control_planes', []).append(node)
    token = new_token()
    cluster.setdefault('tokens', []).append({
        'token': token, 'description': 'The default bootstrap token generated by \'kubeadm init\'.',
        'expires': expiry(86400), 'usages': ['authentication', 'signing'], 'groups': [DEFAULT_GROUP]})
    key = None
    if '--upload-certs' in argv:
        key = secrets.token_hex(32)
        cluster.setdefault('certificate_keys', []).append(key)
        print('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
        print('[upload-certs] Using certificate key:\n%s' % key)
    save_cluster(cluster)
    pin = ca_pin()
    print('[bootstrap-token] Using token: %s' % token)
    print('\nYour Kubernetes control-plane has initialized successfully!\n')
    if key:
        print('You can now join any number of control-plane nodes running the following command on each as root:\n')
        print('  ' + join_lines(endpoint, token, pin, key) + '\n')
    print('Then you can join any number of worker nodes by running the following on each as root:\n')
    print(join_lines(endpoint, token, pin))


def cmd_reset(argv):
    if FAIL == 'reset':
        die('error execution phase cleanup-node: failed to unmount mounted directories in /var/lib/kubelet: '
            'device or resource busy')
    if '-f' not in argv and '--force' not in argv:
        print('[reset] Are you sure you want to proceed? [y/N]: ')
        die("error: won't proceed; the user didn't answer (Y|y) in order to continue")
    print('[preflight] Running pre-flight checks')
    print('[reset] Deleting contents of directories: [%s %s]' % (os.path.join(KDIR, 'manifests'), ETCD))
    for root in (os.path.join(KDIR, 'manifests'), ETCD, os.path.join(KDIR, 'pki')):
        if os.path.isdir(root):
            for entry in os.listdir(root):
                path = os.path.join(root, entry)
                if os.path.isdir(path):
                    subprocess.run(['rm', '-rf', path], check=True)
                else:
                    os.unlink(path)
    for name in ('admin.conf', 'kubelet.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf'):
        path = os.path.join(KDIR, name)
        if os.path.exists(path):
            os.unlink(path)
    print('[reset] Deleting files: [%s %s]' % (os.path.join(KDIR, 'admin.conf'), os.path.join(KDIR, 'kubelet.conf')))
    print('The reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d')


def require_kubeconfig(argv):
    path = flag(argv, '--kubeconfig', os.path.join(KDIR, 'admin.conf'))
    if not os.path.exists(path):
        die('failed to load admin kubeconfig: open %s: no such file or directory' % path)
    cluster = load_cluster()
    if not cluster.get('apiserver_ready'):
        die('failed to list bootstrap tokens: Get "https://%s/api/v1/namespaces/kube-system/secrets": '
            'dial tcp: connect: connection refused' % cluster.get('endpoint', '192.0.2.10:6443'))
    return cluster


def cmd_token(argv):
    sub = argv[1] if len(argv) > 1 else ''
    if sub == 'list':
        if FAIL == 'token-list':
            die('failed to list bootstrap tokens: Unauthorized')
        cluster = require_kubeconfig(argv)
        if (flag(argv, '-o') == 'json' or flag(argv, '--output') == 'json') and FAIL != 'token-list:garbage':
            for tok in cluster.get('tokens', []):
                obj = {'kind': 'BootstrapToken', 'apiVersion': 'output.kubeadm.k8s.io/v1alpha3'}
                obj.update((k, v) for k, v in tok.items() if v not in (None, ''))
                print(json.dumps(obj, indent=4))
        else:
            print('TOKEN                     TTL         EXPIRES                USAGES                   '
                  'DESCRIPTION                                                EXTRA GROUPS')
            for tok in cluster.get('tokens', []):
                print('%s   %-9s   %s   %-22s   %-56s   %s' % (
                    tok['token'], '1h', tok.get('expires') or '<never>', ','.join(tok['usages']),
                    tok.get('description') or '<none>', ','.join(tok['groups'])))
    elif sub == 'create':
        if FAIL == 'token-create':
            die('failed to create or update bootstrap token with name bootstrap-token-abcdef: Unauthorized')
        cluster = require_kubeconfig(argv)
        token = new_token()
        ttl = parse_ttl(flag(argv, '--ttl', '24h'))
        cluster['tokens'].append({
            'token': token, 'description': flag(argv, '--description', ''),
            'expires': expiry(ttl) if ttl else None, 'usages': ['authentication', 'signing'],
            'groups': [DEFAULT_GROUP]})
        save_cluster(cluster)
        if FAIL == 'token-create:silent':
            return
        if '--print-join-command' in argv:
            print(join_lines(cluster['endpoint'], token, ca_pin()).replace('\\\n', '').replace('\t', ''))
        else:
            print(token)
    else:
        die('missing subcommand; "token" is not meant to be run on its own')


def cmd_upload_certs(argv):
    if FAIL == 'upload-certs':
        die('error execution phase upload-certs: error uploading certs: error creating token: '
            'timed out waiting for the condition')
    cluster = require_kubeconfig(argv)
    key = secrets.token_hex(32)
    cluster.setdefault('certificate_keys', []).append(key)
    save_cluster(cluster)
    if FAIL == 'upload-certs:silent':
        return
    print('I1123 10:00:00.000000   1234 version.go:256] remote version is much newer: v1.32.0; falling back to: stable-1.31')
    print('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    print('[upload-certs] Using certificate key:\n%s' % key)


def cmd_join(argv):
    path = flag(argv, '--config')
    st = os.stat(path)
    with open(path) as f:
        text = f.read()
    log({'argv': argv, 'config_mode': '%o' % (st.st_mode & 0o777), 'config': text})
    cfg = yaml.safe_load(text)
    if cfg.get('apiVersion') != 'kubeadm.k8s.io/v1beta4' or cfg.get('kind') != 'JoinConfiguration':
        die('couldn\'t create a Kubernetes client from file "%s": unexpected kind %s' % (path, cfg.get('kind')))
    bootstrap = cfg['discovery']['bootstrapToken']
    registration = cfg.get('nodeRegistration') or {}
    control_plane = 'controlPlane' in cfg
    node = registration.get('name', 'node')
    preflight('join', existing_file_checks(control_plane), registration.get('ignorePreflightErrors') or [])
    cluster = load_cluster()
    tokens = [t['token'] for t in cluster.get('tokens', [])]
    if bootstrap['token'] not in tokens:
        die('error execution phase preflight: couldn\'t validate the identity of the API Server: could not find '
            'a JWS signature in the cluster-info ConfigMap for token ID "%s"' % bootstrap['token'].split('.')[0])
    install_ca()
    pin = ca_pin()
    if pin not in bootstrap.get('caCertHashes', []):
        os.unlink(os.path.join(KDIR, 'pki', 'ca.crt'))
        die('error execution phase preflight: couldn\'t validate the identity of the API Server: cluster CA '
            'found in cluster-info ConfigMap is invalid: none of the public keys "%s" are pinned' % pin)
    print('[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    if control_plane:
        if cfg['controlPlane'].get('certificateKey') not in cluster.get('certificate_keys', []):
            die('error execution phase control-plane-prepare/download-certs: error downloading certs: error '
                'decoding secret data with provided key: cipher: message authentication failed')
        print('[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
        write_control_plane(cluster['endpoint'], node)
    write(os.path.join(KDIR, 'kubelet.conf'), kubeconfig(cluster['endpoint'], 'system:node:' + node))
    print('[kubelet-start] Starting the kubelet')
    if FAIL == 'join:kubelet-start':
        die('error execution phase kubelet-start: error uploading crisocket: timed out waiting for the condition')
    cluster = load_cluster()
    cluster.setdefault('nodes', []).append(node)
    save_cluster(cluster)
    if control_plane:
        # control-plane-join: etcd member, then mark-control-plane (label and taint)
        if FAIL == 'join:mark-control-plane':
            die('error execution phase control-plane-join/mark-control-plane: error applying control-plane '
                'label and taints: context deadline exceeded')
        cluster = load_cluster()
        cluster.setdefault('control_planes', []).append(node)
        save_cluster(cluster)
    print('\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a '
          'response was received.\n* The Kubelet was informed of the new secure connection details.\n\n'
          'Run \'kubectl get nodes\' on the control-plane to see this node join the cluster.')


def main(argv):
    if os.environ.get('FAKE_KUBEADM_SLEEP'):
        time.sleep(float(os.environ['FAKE_KUBEADM_SLEEP']))
    if argv[:1] != ['join']:
        log({'argv': argv})
    if not argv:
        die('kubeadm: no command given')
    if argv[0] == 'init' and argv[1:3] == ['phase', 'upload-certs']:
        cmd_upload_certs(argv)
    elif argv[0] == 'init':
        cmd_init(argv)
    elif argv[0] == 'join':
        cmd_join(argv)
    elif argv[0] == 'reset':
        cmd_reset(argv)
    elif argv[0] == 'token':
        cmd_token(argv)
    else:
        die('unknown command "%s" for "kubeadm"' % argv[0])


if __name__ == '__main__':
    main(sys.argv[1:])
