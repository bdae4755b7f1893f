#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The kubelet's part of running a DaemonSet pod, for tests/cri/daemonset.sh: reads a DaemonSet
# from crds/ and turns its pod template into the CRI requests a kubelet sends (the JSON that
# `cri-client.js SOCKET dsup FILE` plays), and prepares the volumes on the "node" first:
#  - hostPath: a directory under --host-root (DirectoryOrCreate: made; Directory: must exist),
#    or the real one for a path given with --real-host-path (e.g. /sys);
#  - configMap: the ConfigMap's data from crds/ as files in --work, in the kubelet's atomic
#    layout (files are symlinks through ..data to a timestamped dir);
#  - the service account token (--token), the API server's CA (--ca) and the namespace at
#    /var/run/secrets/kubernetes.io/serviceaccount, unless automountServiceAccountToken: false;
#  - env: value and valueFrom.fieldRef, then KUBERNETES_SERVICE_HOST/PORT (--api HOST:PORT);
#    command and args with $(VAR) expanded as the kubelet does ($$ is a literal $, unknown
#    names stay as written);
#  - hostNetwork -> NODE network namespace; privileged, runAsUser, capabilities; memory limit
#    and CPU shares from resources; terminationGracePeriodSeconds (default 30) as "grace".
# The image is the kustomization's newName:newTag unless --image is given.
# Not named *.sh: tests/run.sh runs every tests/cri/*.sh as a test.
import argparse
import json
import os
import sys

import yaml

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
FIELDS = {
    "metadata.name": lambda a: a.pod_name,
    "metadata.namespace": lambda a: a.namespace,
    "metadata.uid": lambda a: a.uid,
    "spec.nodeName": lambda a: a.node,
    "spec.serviceAccountName": lambda a: a.sa_name,
    "status.hostIP": lambda a: a.host_ip,
    "status.podIP": lambda a: a.host_ip,  # hostNetwork: the pod's IP is the node's
}


def die(msg):
    sys.stderr.write("kubelet-ds: %s\n" % msg)
    sys.exit(1)


def load(crds):
    docs = []
    for f in sorted(os.listdir(crds)):
        if f.endswith(".yaml") and f != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(open(os.path.join(crds, f))) if d]
    return docs


def find(docs, kind, name):
    for d in docs:
        if d.get("kind") == kind and d["metadata"]["name"] == name:
            return d
    die("no %s '%s' in the manifests" % (kind, name))


def image_of(crds, image):
    """The container's image rewritten by kustomization.yaml's images entry."""
    k = yaml.safe_load(open(os.path.join(crds, "kustomization.yaml")))
    for i in k.get("images") or []:
        if i["name"] == image.split(":")[0]:
            return "%s:%s" % (i.get("newName", i["name"]), i.get("newTag", "latest"))
    return image


def atomic_dir(path, files):
    """Files in the kubelet's AtomicWriter layout: NAME -> ..data/NAME, ..data -> ..TIMESTAMP."""
    ts = "..2026_01_01_00_00_00.0"
    os.makedirs(os.path.join(path, ts), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(path, ts, name), "w") as f:
            f.write(data)
        if not os.path.lexists(os.path.join(path, name)):
            os.symlink(os.path.join("..data", name), os.path.join(path, name))
    if not os.path.lexists(os.path.join(path, "..data")):
        os.symlink(ts, os.path.join(path, "..data"))


def expand(s, env):
    """Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "$" and i + 1 < len(s):
            if s[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            if s[i + 1] == "(":
                j = s.find(")", i + 2)
                if j > 0:
                    name = s[i + 2:j]
                    out.append(env[name] if name in env else s[i:j + 1])
                    i = j + 1
                    continue
        out.append(s[i])
        i += 1
    return "".join(out)


def quantity(q):
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "k": 10**3, "M": 10**6, "G": 10**9}
    q = str(q)
    for u, m in units.items():
        if q.endswith(u):
            return int(float(q[: -len(u)]) * m)
    return int(q)


def cpu_shares(q):
    q = str(q)
    milli = int(q[:-1]) if q.endswith("m") else int(float(q) * 1000)
    return max(2, milli * 1024 // 1000)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--crds", required=True)
    p.add_argument("--daemonset", required=True)
    p.add_argument("--namespace", default=None)
    p.add_argument("--pod-name", required=True)
    p.add_argument("--uid", required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--host-ip", default="127.0.0.1")
    p.add_argument("--host-root", required=True)
    p.add_argument("--real-host-path", action="append", default=[])
    p.add_argument("--work", required=True)
    p.add_argument("--api", required=True, help="HOST:PORT of the API server")
    p.add_argument("--token", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--image")
    p.add_argument("--no-memory-limit", action="store_true")
    a = p.parse_args()

    docs = load(a.crds)
    ds = find(docs, "DaemonSet", a.daemonset)
    a.namespace = a.namespace or ds["metadata"].get("namespace", "default")
    spec = ds["spec"]["template"]["spec"]
    a.sa_name = spec.get("serviceAccountName", "default")
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)

    # Volumes, made before any container starts, as the kubelet does.
    vols = {}
    for v in spec.get("volumes") or []:
        if "hostPath" in v:
            hp = v["hostPath"]
            real = hp["path"] in a.real_host_path
            path = hp["path"] if real else os.path.join(a.host_root, hp["path"].lstrip("/"))
            t = hp.get("type", "")
            if t == "DirectoryOrCreate":
                os.makedirs(path, mode=0o755, exist_ok=True)
            elif t == "Directory":
                if not os.path.isdir(path):
                    die("hostPath volume '%s': '%s' is not a directory" % (v["name"], path))
            elif t != "":
                die("hostPath volume '%s': type '%s' not supported" % (v["name"], t))
            vols[v["name"]] = path
        elif "configMap" in v:
            cm = find(docs, "ConfigMap", v["configMap"]["name"])
            path = os.path.join(work, "volumes", v["name"])
            atomic_dir(path, cm.get("data") or {})
            vols[v["name"]] = path
        else:
            die("volume '%s': only hostPath and configMap are supported" % v["name"])
    mounts_sa = spec.get("automountServiceAccountToken", True)
    if mounts_sa:
        sa = os.path.join(work, "volumes", "kube-api-access")
        atomic_dir(sa, {"token": a.token, "ca.crt": open(a.ca).read(), "namespace": a.namespace})

    host, port = a.api.rsplit(":", 1)
    privileged = any((c.get("securityContext") or {}).get("privileged") for c in spec["containers"])
    host_net = spec.get("hostNetwork", False)
    ns_opts = {"network": "NODE" if host_net else "POD", "pid": "CONTAINER", "ipc": "POD"}
    labels = {"io.kubernetes.pod.name": a.pod_name, "io.kubernetes.pod.namespace": a.namespace,
              "io.kubernetes.pod.uid": a.uid}
    logdir = os.path.join(work, "logs")
    os.makedirs(logdir, exist_ok=True)
    sandbox = {
        "metadata": {"name": a.pod_name, "namespace": a.namespace, "uid": a.uid, "attempt": 0},
        # The kubelet names only pods with their own network (and UTS) namespace.
        "hostname": "" if host_net else a.pod_name,
        "log_directory": logdir,
        "labels": labels,
        "annotations": {"kubernetes.io/config.source": "api", "plexus.test/owner": "tests/cri"},
        "linux": {"cgroup_parent": "", "security_context": {
            "namespace_options": ns_opts, "privileged": privileged,
            "seccomp": {"profile_type": "Unconfined"}}},
    }
    containers = []
    probes = []
    for c in spec["containers"]:
        # httpGet probes as the kubelet sends them: to the pod IP (the node's, with
        # hostNetwork) unless the probe names a host; the test runs them.
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            hg = (c.get(kind) or {}).get("httpGet")
            if hg is None:
                continue
            if hg.get("scheme", "HTTP") != "HTTP" or not isinstance(hg.get("port"), int):
                die("container '%s': %s: only httpGet over HTTP to a numeric port" % (c["name"], kind))
            probes.append({"container": c["name"], "kind": kind,
                           "url": "http://%s:%d%s" % (hg.get("host", a.host_ip), hg["port"],
                                                      hg.get("path", "/"))})
        env = {}
        order = []
        for e in c.get("env") or []:
            if "value" in e:
                val = expand(str(e["value"]), env)
            elif "fieldRef" in (e.get("valueFrom") or {}):
                fp = e["valueFrom"]["fieldRef"]["fieldPath"]
                if fp not in FIELDS:
                    die("env '%s': fieldRef '%s' not supported" % (e["name"], fp))
                val = FIELDS[fp](a)
            else:
                die("env '%s': only value and fieldRef are supported" % e["name"])
            env[e["name"]] = val
            order.append(e["name"])
        for k, val in (("KUBERNETES_SERVICE_HOST", host), ("KUBERNETES_SERVICE_PORT", port),
                       ("KUBERNETES_SERVICE_PORT_HTTPS", port)):
            if k not in env:
                env[k] = val
                order.append(k)
        sc = c.get("securityContext") or {}
        caps = sc.get("capabilities") or {}
        mounts = []
        for m in c.get("volumeMounts") or []:
            if m["name"] not in vols:
                die("container '%s': volumeMount of unknown volume '%s'" % (c["name"], m["name"]))
            mounts.append({"container_path": m["mountPath"], "host_path": vols[m["name"]],
                           "readonly": bool(m.get("readOnly")), "propagation": "PROPAGATION_PRIVATE"})
        if mounts_sa:
            mounts.append({"container_path": SA_DIR, "host_path": sa, "readonly": True,
                           "propagation": "PROPAGATION_PRIVATE"})
        res = c.get("resources") or {}
        lres = {}
        if "cpu" in (res.get("requests") or {}):
            lres["cpu_shares"] = cpu_shares(res["requests"]["cpu"])
        if "memory" in (res.get("limits") or {}) and not a.no_memory_limit:
            lres["memory_limit_in_bytes"] = quantity(res["limits"]["memory"])
        secctx = {"namespace_options": ns_opts, "privileged": bool(sc.get("privileged")),
                  "capabilities": {"add_capabilities": caps.get("add") or [],
                                   "drop_capabilities": caps.get("drop") or []},
                  "seccomp": {"profile_type": "Unconfined"}}
        if "runAsUser" in sc:
            secctx["run_as_user"] = {"value": str(sc["runAsUser"])}
        os.makedirs(os.path.join(logdir, c["name"]), exist_ok=True)
        containers.append({
            "metadata": {"name": c["name"], "attempt": 0},
            "image": {"image": a.image or image_of(a.crds, c["image"])},
            "command": [expand(s, env) for s in c.get("command") or []],
            "args": [expand(s, env) for s in c.get("args") or []],
            "envs": [{"key": k, "value": env[k]} for k in order],
            "mounts": mounts,
            "labels": dict(labels, **{"io.kubernetes.container.name": c["name"]}),
            "log_path": os.path.join(c["name"], "0.log"),
            "linux": {"resources": lres, "security_context": secctx},
        })
    json.dump({"sandbox": sandbox, "containers": containers, "probes": probes,
               "grace": int(spec.get("terminationGracePeriodSeconds", 30))}, sys.stdout)
    sys.stdout.write("\n")


main()
