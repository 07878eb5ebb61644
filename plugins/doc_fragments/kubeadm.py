# -*- coding: utf-8 -*-
# Copyright: hakube maintainers
# Apache License 2.0 (see galaxy.yml)
"""Options shared by the modules that run kubeadm."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  kubernetes_dir:
    description:
      - Where kubeadm keeps its kubeconfig files, C(pki/) and C(manifests/). Only tests
        change it.
    type: path
    default: /etc/kubernetes
  kubeadm_path:
    description:
      - Name or path of the kubeadm executable.
    type: str
    default: kubeadm
'''
