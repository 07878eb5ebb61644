# -*- coding: utf-8 -*-
"""A stand-in for ``kubectl``, answering the three questions the kubeadm_* modules ask.

It reads the cluster state file of fake_kubeadm.py (``FAKE_CLUSTER``):

* ``kubectl --kubeconfig K get --raw=/readyz``: ``ok`` when the API server answers, else
  kubectl's own ``The connection to the server <host:port> was refused - did you specify the
  right host or port?`` and exit 1.
* ``kubectl --kubeconfig K get node NAME -o name``: ``node/NAME``, or
  ``Error from server (NotFound): nodes "NAME" not found`` and exit 1 (kubectl's formats);
  with ``-o json`` the Node object, whose labels carry
  ``node-role.kubernetes.io/control-plane`` once kubeadm's mark-control-plane phase ran.
* ``kubectl --kubeconfig K -n kube-system get configmap kubeadm-config -o
  jsonpath={.data.ClusterConfiguration}``: the stored ClusterConfiguration YAML, or
  ``Error from server (NotFound): configmaps "kubeadm-config" not found`` and exit 1 when
  init never uploaded it.
* When the cluster state says ``admin_forbidden`` (an init that stopped before it bound the
  admin user, see fake_kubeadm.py), every call but ``/readyz`` (open to any authenticated
  user) answers kubectl's ``Error from server (Forbidden): ...`` and exits 1.

A kubeconfig that does not exist gives ``error: stat K: no such file or directory``. Calls are
appended to ``FAKE_KUBECTL_LOG`` when set.

When the cluster state says ``local_apiserver_hangs`` (a control plane whose own API server
lost its etcd member: kubeadm points a control plane's kubelet.conf at it), a call without
``--server`` times out as kubectl says it did in the lab (``Unable to connect to the
server: context deadline exceeded (Client.Timeout exceeded while awaiting headers)``, exit
1); with ``--server`` (the control-plane endpoint) it is answered.
"""

import json
import os
import sys


def main(argv):
    if os.environ.get('FAKE_KUBECTL_LOG'):
        with open(os.environ['FAKE_KUBECTL_LOG'], 'a') as f:
            f.write(json.dumps(argv) + '\n')
    kubeconfig = server = None
    words = []
    i = 0
    while i < len(argv):
        if argv[i] in ('--kubeconfig', '--server', '-n', '-o', '--namespace'):
            if argv[i] == '--kubeconfig':
                kubeconfig = argv[i + 1]
            elif argv[i] == '--server':
                server = argv[i + 1]
            else:
                words.append(argv[i] + '=' + argv[i + 1])
            i += 2
            continue
        words.append(argv[i])
        i += 1
    if kubeconfig and not os.path.exists(kubeconfig):
        sys.stderr.write('error: stat %s: no such file or directory\n' % kubeconfig)
        return 1
    with open(os.environ['FAKE_CLUSTER']) as f:
        cluster = json.load(f)
    if cluster.get('local_apiserver_hangs') and not server:
        sys.stderr.write('Unable to connect to the server: context deadline exceeded '
                         '(Client.Timeout exceeded while awaiting headers)\n')
        return 1
    if not cluster.get('apiserver_ready'):
        sys.stderr.write('The connection to the server %s was refused - did you specify the right host or port?\n'
                         % cluster.get('endpoint', '192.0.2.10:6443'))
        return 1
    if 'get' in words and '--raw=/readyz' in words:
        sys.stdout.write('ok')
        return 0
    if cluster.get('admin_forbidden'):
        resource = 'configmaps "kubeadm-config"' if 'configmap' in words else 'nodes "%s"' % words[-1]
        sys.stderr.write('Error from server (Forbidden): %s is forbidden: User "kubernetes-admin" cannot get '
                         'resource "%s" in API group "" in the namespace "kube-system"\n'
                         % (resource, resource.split()[0]))
        return 1
    if words[:2] == ['get', 'node']:
        name = words[2]
        if name in cluster.get('nodes', []):
            if '-o=json' in words:
                labels = {'kubernetes.io/hostname': name}
                if name in cluster.get('control_planes', []):
                    labels['node-role.kubernetes.io/control-plane'] = ''
                json.dump({'apiVersion': 'v1', 'kind': 'Node', 'metadata': {'name': name, 'labels': labels}},
                          sys.stdout)
                return 0
            sys.stdout.write('node/%s\n' % name)
            return 0
        sys.stderr.write('Error from server (NotFound): nodes "%s" not found\n' % name)
        return 1
    if 'configmap' in words and 'kubeadm-config' in words:
        if 'cluster_configuration' not in cluster:
            sys.stderr.write('Error from server (NotFound): configmaps "kubeadm-config" not found\n')
            return 1
        sys.stdout.write(cluster['cluster_configuration'])
        return 0
    sys.stderr.write('error: fake kubectl does not know %s\n' % ' '.join(argv))
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
