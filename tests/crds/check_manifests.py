#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Offline checker of the manifests under crds/: kinds and current apiVersions, required fields,
# the NAD CRD against its expected apiextensions.k8s.io/v1 form, RBAC against the API calls in the code, example NADs and pods,
# and kustomization.yaml (every manifest listed, every plexus container's image named in it).
# Usage: check_manifests.py [CRDS_DIR] [SRC_ROOT]; prints "PASS: x" / "FAIL: x" lines.
import json
import os
import re
import subprocess
import sys

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRDS = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(TOP, "crds")
SRC = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else TOP
INSTALL_BIN = os.environ.get("PLEXUS_INSTALL_BIN")
KUSTOMIZATION = "kustomization.yaml"

# Current (non-removed, non-beta) API versions of every kind we ship.
KINDS = {
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", False),
    "ServiceAccount": ("v1", True),
    "ConfigMap": ("v1", True),
    "Pod": ("v1", True),
    "DaemonSet": ("apps/v1", True),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", False),
    "Role": ("rbac.authorization.k8s.io/v1", True),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", True),
    "NetworkAttachmentDefinition": ("k8s.cni.cncf.io/v1", True),
}
BUILTIN_TYPES = {"macvlan", "ipvlan", "vxlan", "sriov"}
IPAM_TYPES = {"host-local", "static", "dhcp", "whereabouts"}
CNI_VERSIONS = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}
# Granted beyond what the code calls, each with its reason (docs/install.md).
RBAC_EXTRA = {
    ("k8s.cni.cncf.io", "network-attachment-definitions", "list"):
        "Multus-compatible role; kubectl-style NAD listing for the troubleshooting doc",
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

CRD_EXPECTED = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "network-attachment-definitions.k8s.cni.cncf.io"},
    "spec": {
        "group": "k8s.cni.cncf.io",
        "scope": "Namespaced",
        "names": {
            "plural": "network-attachment-definitions",
            "singular": "network-attachment-definition",
            "kind": "NetworkAttachmentDefinition",
            "shortNames": ["net-attach-def", "nad"],
        },
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object"},
                    "spec": {"type": "object",
                             "properties": {"config": {"type": "string"}}},
                }}},
        }],
    },
}

fails = 0


def result(ok, name, why=""):
    global fails
    if ok:
        print(f"PASS: {name}")
    else:
        fails += 1
        print(f"FAIL: {name}{': ' + why if why else ''}")


def problems(name, errs):
    result(not errs, name, "; ".join(errs[:8]))


def strip_descriptions(x):
    if isinstance(x, dict):
        return {k: strip_descriptions(v) for k, v in x.items() if k != "description"}
    if isinstance(x, list):
        return [strip_descriptions(v) for v in x]
    return x


def load_all():
    docs = []
    errs = []
    files = []
    for root, _, names in os.walk(CRDS):
        for n in sorted(names):
            if n.endswith((".yaml", ".yml")) and n != KUSTOMIZATION:
                files.append(os.path.join(root, n))
    for f in sorted(files):
        rel = os.path.relpath(f, CRDS)
        try:
            with open(f) as fh:
                for i, d in enumerate(yaml.safe_load_all(fh)):
                    if d is None:
                        continue
                    if not isinstance(d, dict):
                        errs.append(f"{rel} doc {i}: not a mapping")
                        continue
                    docs.append((rel, d))
        except yaml.YAMLError as e:
            errs.append(f"{rel}: {e}".replace("\n", " "))
    problems(f"every manifest under crds/ parses as YAML ({len(files)} files, {len(docs)} objects)",
             errs if files else ["no manifests"])
    return docs


def ident(rel, d):
    return f"{rel}: {d.get('kind')}/{(d.get('metadata') or {}).get('name')}"


def check_kinds(docs):
    errs = []
    for rel, d in docs:
        kind, api = d.get("kind"), d.get("apiVersion")
        if kind not in KINDS:
            errs.append(f"{rel}: unknown kind {kind!r}")
            continue
        want, namespaced = KINDS[kind]
        if api != want:
            errs.append(f"{ident(rel, d)}: apiVersion {api!r}, want {want!r}")
        md = d.get("metadata")
        if not isinstance(md, dict) or not md.get("name"):
            errs.append(f"{rel}: {kind} without metadata.name")
            continue
        if not DNS_SUB.match(md["name"]) or len(md["name"]) > 253:
            errs.append(f"{ident(rel, d)}: name is not a DNS-1123 subdomain")
        if not namespaced and "namespace" in md:
            errs.append(f"{ident(rel, d)}: cluster-scoped object with a namespace")
        if namespaced and "namespace" in md and not DNS_LABEL.match(str(md["namespace"])):
            errs.append(f"{ident(rel, d)}: bad namespace")
        for k in ("labels", "annotations"):
            for key, v in (md.get(k) or {}).items():
                if not isinstance(v, str):
                    errs.append(f"{ident(rel, d)}: metadata.{k}[{key}] is not a string")
    problems("kinds and apiVersions are real and current; metadata.name present", errs)


def check_crd(docs):
    crds = [d for _, d in docs if d.get("kind") == "CustomResourceDefinition"]
    nad = [d for d in crds if (d.get("metadata") or {}).get("name") ==
           "network-attachment-definitions.k8s.cni.cncf.io"]
    result(len(nad) == 1, "the NAD CRD is shipped once", f"found {len(nad)}")
    if nad:
        got = strip_descriptions(nad[0])
        result(got == CRD_EXPECTED, "the NAD CRD matches the expected v1 form exactly",
               json.dumps(got, sort_keys=True))


def check_pod_spec(where, spec, objs, errs):
    vols = [v.get("name") for v in spec.get("volumes") or []]
    if len(vols) != len(set(vols)):
        errs.append(f"{where}: duplicate volume names")
    for v in spec.get("volumes") or []:
        cm = v.get("configMap")
        if cm and ("ConfigMap", cm.get("name")) not in objs:
            errs.append(f"{where}: volume {v.get('name')} uses undefined ConfigMap {cm.get('name')}")
        hp = v.get("hostPath")
        if hp and not str(hp.get("path", "")).startswith("/"):
            errs.append(f"{where}: volume {v.get('name')}: hostPath.path not absolute")
    ctrs = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    if not spec.get("containers"):
        errs.append(f"{where}: no containers")
    names = [c.get("name") for c in ctrs]
    if len(names) != len(set(names)):
        errs.append(f"{where}: duplicate container names")
    for c in ctrs:
        if not c.get("name") or not c.get("image"):
            errs.append(f"{where}: a container without name or image")
        paths = []
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols:
                errs.append(f"{where}: container {c.get('name')} mounts undefined volume {m.get('name')}")
            paths.append(m.get("mountPath"))
            if not str(m.get("mountPath", "")).startswith("/"):
                errs.append(f"{where}: container {c.get('name')}: mountPath not absolute")
        if len(paths) != len(set(paths)):
            errs.append(f"{where}: container {c.get('name')}: duplicate mountPath")
    sa = spec.get("serviceAccountName")
    ns = None
    if sa and sa != "default" and ("ServiceAccount", sa) not in objs:
        errs.append(f"{where}: serviceAccountName {sa} is not defined")
    return ns


def check_workloads(docs):
    objs = {(d.get("kind"), (d.get("metadata") or {}).get("name")): d for _, d in docs}
    errs = []
    for rel, d in docs:
        if d.get("kind") != "DaemonSet":
            continue
        w = ident(rel, d)
        spec = d.get("spec") or {}
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        tmpl = spec.get("template") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        if not sel:
            errs.append(f"{w}: no spec.selector.matchLabels")
        for k, v in sel.items():
            if labels.get(k) != v:
                errs.append(f"{w}: selector {k}={v} does not match the template labels")
        ps = tmpl.get("spec") or {}
        check_pod_spec(w, ps, objs, errs)
        if not ps.get("hostNetwork"):
            errs.append(f"{w}: not hostNetwork (it must run before the pod network exists)")
        if not any(t.get("operator") == "Exists" and not t.get("key")
                   for t in ps.get("tolerations") or []):
            errs.append(f"{w}: does not tolerate every taint")
    for rel, d in docs:
        if d.get("kind") == "Pod":
            check_pod_spec(ident(rel, d), d.get("spec") or {}, objs, errs)
    problems("DaemonSets and Pods: selectors match labels, containers have name+image, "
             "mounts name volumes, ConfigMaps and ServiceAccounts exist", errs)


def code_api_calls():
    """(group, resource, verb) for every API request the C code makes."""
    calls = set()
    files = []
    for d in ("lib/kube", "meta", "apid"):
        p = os.path.join(SRC, d)
        if os.path.isdir(p):
            files += [os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith(".c")]
    for f in files:
        text = open(f).read()
        # One function body at a time: the path and the method are set in the same function.
        # Adjacent string literals are one string (clang-format splits long paths).
        text = re.sub(r'"\s*\n\s*"', "", text)
        for body in re.split(r"\n}\n", text):
            paths = re.findall(r'"(/apis?/[^"]*)"', body)
            if not paths:
                continue
            methods = set(re.findall(r'\.method\s*=\s*"([A-Z]+)"', body))
            methods |= set(re.findall(r'\b(?:kube_)?request(?:_json)?\([\w>-]+,\s*"([A-Z]+)"', body))
            if "kube_list(" in body:
                methods.add("LIST")
            if not methods and "kube_get_object(" in body:
                methods = {"GET"}
            for path in paths:
                m = re.match(r"^/api/v1/namespaces/%s/([a-z-]+)(/%s)?(/[a-z]+)?$", path) or \
                    re.match(r"^/api/v1/([a-z-]+)()()$", path) or \
                    re.match(r"^/apis/([a-z0-9.-]+)/v[0-9a-z]+/namespaces/%s/([a-z-]+)(/%s)?(/[a-z]+)?$", path)
                if not m:
                    calls.add(("?", path, "?"))
                    continue
                if path.startswith("/apis/"):
                    group, res, named, sub = m.group(1), m.group(2), m.group(3), m.group(4)
                else:
                    group, res, named, sub = "", m.group(1), m.group(2), m.group(3)
                if sub:
                    res += sub
                for meth in methods or {"?"}:
                    verb = {"GET": "get" if named else "list", "LIST": "list", "PATCH": "patch", "PUT": "update",
                            "POST": "create", "DELETE": "delete"}.get(meth, "?")
                    calls.add((group, res, verb))
    return calls


def check_rbac(docs):
    calls = code_api_calls()
    result(calls and all("?" not in c for c in calls),
           f"API calls found in lib/kube, meta and apid: {sorted(calls)}", "unrecognised path or method")
    roles = [(rel, d) for rel, d in docs if d.get("kind") == "ClusterRole"]
    result(len(roles) == 1, "one ClusterRole", f"found {len(roles)}")
    if not roles:
        return
    granted = set()
    errs = []
    for r in roles[0][1].get("rules") or []:
        for x in ("apiGroups", "resources", "verbs"):
            if "*" in (r.get(x) or []):
                errs.append(f"wildcard in {x}")
        if r.get("resourceNames") or r.get("nonResourceURLs"):
            errs.append("unexpected resourceNames/nonResourceURLs")
        for g in r.get("apiGroups") or []:
            for res in r.get("resources") or []:
                for v in r.get("verbs") or []:
                    granted.add((g, res, v))
    # Namespaced grants (a Lease in one namespace) come from Roles bound to the same account.
    role_names = {(d.get("roleRef") or {}).get("name") for _, d in docs
                  if d.get("kind") == "RoleBinding" and (d.get("roleRef") or {}).get("kind") == "Role"}
    for _, d in docs:
        if d.get("kind") != "Role" or (d.get("metadata") or {}).get("name") not in role_names:
            continue
        for r in d.get("rules") or []:
            for x in ("apiGroups", "resources", "verbs"):
                if "*" in (r.get(x) or []):
                    errs.append(f"wildcard in Role {x}")
            for g in r.get("apiGroups") or []:
                for res in r.get("resources") or []:
                    for v in r.get("verbs") or []:
                        granted.add((g, res, v))
    missing = calls - granted
    extra = granted - calls - set(RBAC_EXTRA)
    if missing:
        errs.append(f"missing {sorted(missing)}")
    if extra:
        errs.append(f"more than the code needs {sorted(extra)}")
    problems("ClusterRole grants exactly the calls the code makes (least privilege)", errs)
    objs = {(d.get("kind"), (d.get("metadata") or {}).get("name")): d for _, d in docs}
    errs = []
    role_name = roles[0][1]["metadata"]["name"]
    bindings = [d for _, d in docs if d.get("kind") == "ClusterRoleBinding"
                and (d.get("roleRef") or {}).get("name") == role_name]
    if len(bindings) != 1:
        errs.append(f"{len(bindings)} bindings of ClusterRole {role_name}")
    for b in bindings:
        ref = b.get("roleRef") or {}
        if ref.get("kind") != "ClusterRole" or ref.get("apiGroup") != "rbac.authorization.k8s.io":
            errs.append("roleRef kind/apiGroup")
        for s in b.get("subjects") or []:
            sa = objs.get(("ServiceAccount", s.get("name")))
            if s.get("kind") != "ServiceAccount" or not sa or \
               (sa.get("metadata") or {}).get("namespace") != s.get("namespace"):
                errs.append(f"subject {s} is not a ServiceAccount defined here")
            else:
                users = [d for _, d in docs if d.get("kind") == "DaemonSet" and
                         ((d.get("spec") or {}).get("template") or {}).get("spec", {})
                         .get("serviceAccountName") == s.get("name")]
                if not users:
                    errs.append(f"no DaemonSet runs as {s.get('name')}")
    problems("ClusterRoleBinding binds the role to the DaemonSet's ServiceAccount", errs)


def plugin_list(conf):
    if "plugins" in conf:
        return conf["plugins"] if isinstance(conf["plugins"], list) else None
    return [conf]


def check_nads(docs):
    nads = {}
    errs = []
    resources = device_plugin_resources(docs)
    for rel, d in docs:
        if d.get("kind") != "NetworkAttachmentDefinition":
            continue
        md = d["metadata"]
        key = (md.get("namespace", "default"), md["name"])
        w = ident(rel, d)
        nads[key] = d
        if not DNS_LABEL.match(md["name"]) or len(md["name"]) > 63:
            errs.append(f"{w}: name is not a DNS-1123 label (NPWG spec v1.3 §3.3)")
        cfg = (d.get("spec") or {}).get("config")
        if not isinstance(cfg, str):
            errs.append(f"{w}: spec.config missing or not a string")
            continue
        try:
            conf = json.loads(cfg)
        except ValueError as e:
            errs.append(f"{w}: spec.config is not JSON: {e}")
            continue
        if not isinstance(conf, dict):
            errs.append(f"{w}: spec.config is not an object")
            continue
        if conf.get("name") not in (None, md["name"]):
            errs.append(f"{w}: config name {conf.get('name')!r} differs from the NAD's")
        if conf.get("cniVersion") not in CNI_VERSIONS:
            errs.append(f"{w}: cniVersion {conf.get('cniVersion')!r}")
        pl = plugin_list(conf)
        if not pl:
            errs.append(f"{w}: neither type nor a plugins list")
            continue
        types = set()
        for p in pl:
            t = p.get("type") if isinstance(p, dict) else None
            types.add(t)
            if not isinstance(t, str) or not (t in BUILTIN_TYPES or
                                              (t.startswith("plexus-") and t[7:] in BUILTIN_TYPES)):
                errs.append(f"{w}: plugin type {t!r} is not a plexus plugin")
            ipam = p.get("ipam") if isinstance(p, dict) else None
            if ipam is not None and ipam.get("type") not in IPAM_TYPES:
                errs.append(f"{w}: ipam type {ipam.get('type')!r}")
        rn = (md.get("annotations") or {}).get("k8s.v1.cni.cncf.io/resourceName")
        is_sriov = any(str(t).removeprefix("plexus-") == "sriov" for t in types)
        if is_sriov and not rn:
            errs.append(f"{w}: sriov NAD without the resourceName annotation")
        if rn and rn not in resources:
            errs.append(f"{w}: resourceName {rn} is not a pool of the device plugin config")
    problems(f"example NADs: names, spec.config JSON, plexus plugin types, resourceName ({len(nads)})", errs)
    return nads


def device_plugin_resources(docs):
    res = set()
    for _, d in docs:
        if d.get("kind") == "ConfigMap" and "device-plugin.json" in (d.get("data") or {}):
            for r in json.loads(d["data"]["device-plugin.json"]).get("resourceList", []):
                res.add(f"{r.get('resourcePrefix', 'intel.com')}/{r['resourceName']}")
    return res


def parse_networks(s):
    s = s.strip()
    if s.startswith("["):
        return [(e.get("namespace"), e["name"]) for e in json.loads(s)]
    out = []
    for item in s.split(","):
        item = item.strip().split("@")[0]
        ns, _, name = item.rpartition("/")
        out.append((ns or None, name))
    return out


def check_pods(docs, nads):
    errs = []
    forms = set()
    n = 0
    for rel, d in docs:
        if d.get("kind") != "Pod":
            continue
        md = d["metadata"]
        w = ident(rel, d)
        ann = (md.get("annotations") or {}).get("k8s.v1.cni.cncf.io/networks")
        if not ann:
            continue
        n += 1
        forms.add("json" if ann.strip().startswith("[") else "short")
        try:
            refs = parse_networks(ann)
        except (ValueError, KeyError, AttributeError) as e:
            errs.append(f"{w}: bad networks annotation: {e}")
            continue
        res = {}
        for c in (d.get("spec") or {}).get("containers") or []:
            res.update(((c.get("resources") or {}).get("limits")) or {})
        for ns, name in refs:
            key = (ns or md.get("namespace", "default"), name)
            if key not in nads:
                errs.append(f"{w}: references undefined NAD {key[0]}/{key[1]}")
                continue
            rn = (nads[key]["metadata"].get("annotations") or {}).get("k8s.v1.cni.cncf.io/resourceName")
            if rn and rn not in res:
                errs.append(f"{w}: uses {name} but does not request {rn}")
    if n == 0:
        errs.append("no example pod with a networks annotation")
    if forms != {"json", "short"}:
        errs.append(f"annotation forms shown: {sorted(forms)}, want both json and short")
    problems(f"example pods reference existing NADs and request their resources ({n})", errs)


def check_install_args(docs):
    errs = []
    ds = [d for _, d in docs if d.get("kind") == "DaemonSet" and d["metadata"]["name"] == "plexus"]
    if not ds:
        problems("the plexus DaemonSet runs plexus-install with real options", ["no DaemonSet plexus"])
        return
    c = ds[0]["spec"]["template"]["spec"]["containers"][0]
    cmd = " ".join((c.get("command") or []) + (c.get("args") or []))
    if "plexus-install" not in cmd:
        errs.append("the container does not run plexus-install")
    opts = set(re.findall(r"(--[a-z-]+)", cmd))
    for _, d in docs:
        if d.get("kind") == "ConfigMap" and "install-args" in (d.get("data") or {}):
            opts |= set(re.findall(r"^(--[a-z-]+)", d["data"]["install-args"], re.M))
    if INSTALL_BIN:
        helptext = subprocess.run([INSTALL_BIN, "--help"], capture_output=True, text=True).stdout
        known = set(re.findall(r"(--[a-z-]+)", helptext))
        for o in sorted(opts - known):
            errs.append(f"{o} is not an option of plexus-install")
    problems("the plexus DaemonSet runs plexus-install with options it has"
             + ("" if INSTALL_BIN else " (options not checked: no PLEXUS_INSTALL_BIN)"), errs)


def check_kustomization(docs):
    errs = []
    try:
        with open(os.path.join(CRDS, KUSTOMIZATION)) as fh:
            k = yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError) as e:
        problems("kustomization.yaml lists the manifests and names the image", [str(e)])
        return
    if k.get("kind") != "Kustomization":
        errs.append("kustomization.yaml: kind is not Kustomization")
    top = sorted(n for n in os.listdir(CRDS) if n.endswith(".yaml") and n != KUSTOMIZATION)
    if sorted(k.get("resources") or []) != top:
        errs.append(f"resources {k.get('resources')} are not the manifests {top}")
    images = k.get("images") or []
    if len(images) != 1 or not images[0].get("newTag"):
        errs.append("images: want exactly one entry with a newTag")
    name = images[0].get("name") if images else None
    n = 0
    for rel, d in docs:
        if d.get("kind") != "DaemonSet":
            continue
        for c in d["spec"]["template"]["spec"].get("containers") or []:
            n += 1
            if c.get("image") != name:
                errs.append(f"{ident(rel, d)}: container {c.get('name')} image "
                            f"{c.get('image')!r} is not {name!r} (the kustomization's)")
            if "/usr/lib/plexus/" not in " ".join((c.get("command") or []) + (c.get("args") or [])):
                errs.append(f"{ident(rel, d)}: container {c.get('name')} runs no plexus binary")
    problems(f"kustomization.yaml lists every manifest and names the image of all {n} "
             "plexus containers", errs)


def main():
    docs = load_all()
    check_kustomization(docs)
    check_kinds(docs)
    check_crd(docs)
    check_workloads(docs)
    check_rbac(docs)
    nads = check_nads(docs)
    check_pods(docs, nads)
    check_install_args(docs)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
