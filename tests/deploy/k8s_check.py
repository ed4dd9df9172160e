"""Checks Loka's rendered Kubernetes manifests (kubectl kustomize output)
as the API server and the kubelet would read them, offline:

  - strict schema: every object against the Kubernetes API's own models
    (Debian 13's python3-kubernetes, unpacked by scripts/deploy-tools.sh):
    unknown fields, wrong types and missing required fields are errors;
  - what no schema says: the probes ask /health and /ready on the port the
    ConfigMap's loka-stratum.toml binds the API to; the pod runs as non-
    root with a read-only root, no privilege escalation and no
    capabilities; every selector selects the pod; every file a *_FILE
    variable or *_file key names is a key of the mounted Secret; the HPA
    scales on CPU and on a metric Loka really exports; the NetworkPolicy
    lets miners in, the API in from monitoring only, DNS, pools and the
    database out.

usage: k8s_check.py MODELS_DIR SOURCE_DIR RENDERED.yaml [postgres]
Secret values are never printed.
"""
import base64
import os
import re
import sys
import tomllib
import types

import yaml

models_dir, src, rendered = sys.argv[1:4]
overlay = sys.argv[4] if len(sys.argv) > 4 else ""
sys.path.insert(0, os.path.join(src, "tests"))
from tap import check, finish  # noqa: E402

# kubernetes/__init__ imports its kubeconfig loader (google-auth, not
# needed here): load kubernetes.client alone.
pkg = types.ModuleType("kubernetes")
pkg.__path__ = [os.path.join(models_dir, "kubernetes")]
sys.modules["kubernetes"] = pkg
import kubernetes.client as k8s  # noqa: E402

SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float),
           "datetime": str, "date": str}


def model_of(doc):
    """The model class of an object: apps/v1 Deployment -> V1Deployment."""
    version = doc.get("apiVersion", "").split("/")[-1]
    name = version[:1].upper() + version[1:] + doc.get("kind", "")
    return name if hasattr(k8s, name) else None


def walk(value, typ, path, errors):
    """Every field of value known to typ, of the right type."""
    if typ == "object":
        return
    if typ in SCALARS:
        ok = isinstance(value, SCALARS[typ]) and not (
            typ != "bool" and isinstance(value, bool))
        if not ok:
            errors.append("%s: %r is not %s" % (path, value, typ))
        return
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(value, list):
            errors.append("%s: not a list" % path)
            return
        for i, v in enumerate(value):
            walk(v, m.group(1), "%s[%d]" % (path, i), errors)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(value, dict):
            errors.append("%s: not a map" % path)
            return
        for k, v in value.items():
            walk(v, m.group(1), "%s.%s" % (path, k), errors)
        return
    cls = getattr(k8s, typ)
    if not isinstance(value, dict):
        errors.append("%s: not an object (%s)" % (path, typ))
        return
    fields = {json: attr for attr, json in cls.attribute_map.items()}
    for k, v in value.items():
        if k not in fields:
            errors.append("%s.%s: unknown field of %s" % (path, k, typ))
        elif v is not None:
            walk(v, cls.openapi_types[fields[k]], "%s.%s" % (path, k),
                 errors)


docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
api = k8s.ApiClient()
by_kind = {}
for d in docs:
    what = "%s %s" % (d.get("kind"), d.get("metadata", {}).get("name"))
    by_kind.setdefault(d.get("kind"), []).append(d)
    name = model_of(d)
    if not check(name is not None, "%s: a known apiVersion/kind (%s)" %
                 (what, d.get("apiVersion"))):
        continue
    errors = []
    walk(d, name, d["kind"], errors)
    try:  # required fields (the models' own client-side validation)
        api._ApiClient__deserialize(d, name)
    except (ValueError, TypeError) as e:
        errors.append(str(e))
    check(not errors, "%s: valid %s (strict: fields, types, required)" %
          (what, name), "; ".join(errors))

for kind, n in (("Namespace", 1), ("ConfigMap", 1), ("Secret", 1),
                ("Service", 2), ("Deployment", 1),
                ("HorizontalPodAutoscaler", 1), ("PodDisruptionBudget", 1),
                ("NetworkPolicy", 1)):
    check(len(by_kind.get(kind, [])) == n, "%d %s" % (n, kind),
          len(by_kind.get(kind, [])))
ns = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
check(ns == {by_kind["Namespace"][0]["metadata"]["name"]},
      "every object in the namespace %s" %
      by_kind["Namespace"][0]["metadata"]["name"], ns)

dep = by_kind["Deployment"][0]
pod = dep["spec"]["template"]
spec = pod["spec"]
c = spec["containers"][0]
sc = c.get("securityContext", {})
psc = spec.get("securityContext", {})
labels = pod["metadata"]["labels"]
cm = by_kind["ConfigMap"][0]
secret = by_kind["Secret"][0]
conf = tomllib.loads(cm["data"]["loka-stratum.toml"])


def selects(sel):
    return bool(sel) and all(labels.get(k) == v for k, v in sel.items())


ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
api_port = int(conf["metrics"]["bind"].rsplit(":", 1)[1])
stratum_port = int(conf["server"]["bind"].rsplit(":", 1)[1])
check(ports.get("metrics") == api_port and ports.get("stratum") ==
      stratum_port, "container ports match loka-stratum.toml's binds "
      "(stratum %d, metrics %d)" % (stratum_port, api_port), ports)
for probe, path in (("livenessProbe", "/health"), ("startupProbe",
                    "/health"), ("readinessProbe", "/ready")):
    g = c.get(probe, {}).get("httpGet", {})
    check(g.get("path") == path and ports.get(g.get("port")) == api_port,
          "%s: GET %s on the API port" % (probe, path), g)
check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001,
      "pod runs as non-root uid 10001 (the image's user)", psc)
check(sc.get("readOnlyRootFilesystem") is True, "read-only root")
check(sc.get("allowPrivilegeEscalation") is False,
      "no privilege escalation")
check(sc.get("capabilities", {}).get("drop") == ["ALL"] and
      not sc.get("capabilities", {}).get("add"), "capabilities: drop ALL")
check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
      "seccomp RuntimeDefault")
check(spec.get("automountServiceAccountToken") is False,
      "no service account token in the pod (Loka never calls the API "
      "server)")
res = c.get("resources", {})
check(all(res.get(a, {}).get(r) for a in ("requests", "limits")
          for r in ("cpu", "memory")), "cpu and memory requests and limits",
      res)
pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {})
pause = int(pre.get("command", ["", "0"])[-1]) if pre else 0
grace = spec.get("terminationGracePeriodSeconds", 30)
drain = 10  # [server] shutdown_timeout's default
check(pre and grace >= pause + drain + 5, "preStop pause %d s + drain %d s "
      "fit in terminationGracePeriodSeconds %d" % (pause, drain, grace))
ann = pod["metadata"].get("annotations", {})
check(ann.get("prometheus.io/scrape") == "true" and
      ann.get("prometheus.io/port") == str(api_port) and
      ann.get("prometheus.io/path") == "/metrics",
      "prometheus scrape annotations on the API port", ann)
check(selects(dep["spec"]["selector"]["matchLabels"]),
      "the Deployment's selector selects its pods")
svc = {s["metadata"]["name"]: s for s in by_kind["Service"]}
stratum = svc.get("loka-stratum", {}).get("spec", {})
check(selects(stratum.get("selector")) and
      stratum.get("externalTrafficPolicy") == "Local" and
      [(p["port"], p["targetPort"]) for p in stratum["ports"]] ==
      [(3333, "stratum")], "Service loka-stratum: Stratum 3333 to the pods, "
      "externalTrafficPolicy Local", stratum)
metrics_svc = svc.get("loka-stratum-metrics", {}).get("spec", {})
check(selects(metrics_svc.get("selector")) and metrics_svc.get("type") ==
      "ClusterIP", "Service loka-stratum-metrics: cluster-internal")
pdb = by_kind["PodDisruptionBudget"][0]["spec"]
check(selects(pdb["selector"]["matchLabels"]) and
      ("maxUnavailable" in pdb or "minAvailable" in pdb),
      "PodDisruptionBudget selects the pods")

# Volumes, the ConfigMap and the Secret that are mounted exist.
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
check(all(m in vols for m in mounts.values()), "every mount has a volume")
check(vols[mounts["/etc/loka-stratum"]]["configMap"]["name"] ==
      cm["metadata"]["name"], "the ConfigMap is mounted at /etc/loka-stratum")
sec_vol = [(p, vols[n]["secret"]) for p, n in mounts.items()
           if "secret" in vols[n]]
check(len(sec_vol) == 1 and sec_vol[0][1]["secretName"] ==
      secret["metadata"]["name"], "the Secret is mounted")
sec_dir = sec_vol[0][0] if sec_vol else "?"
check(mounts.get("/var/lib/loka-stratum") and
      mounts.get("/tmp"), "writable volumes for the state and /tmp only")
files = [e["value"] for e in c.get("env", []) if e["name"].endswith("_FILE")]
files += [p["password_file"] for p in conf.get("pools", [])
          if "password_file" in p]
for f in files:
    d, _, key = f.rpartition("/")
    check(d == sec_dir and key in secret.get("data", {}),
          "%s is a key of the mounted Secret" % f)
names = {e["name"] for e in c.get("env", [])}
check({"LOKA_DATABASE_URL_FILE", "LOKA_METRICS_API_TOKEN_FILE"} <= names,
      "the database URL and the API token come from the Secret's files")

# The HPA: CPU, and Loka's own gauge of open miner connections.
hpa = by_kind["HorizontalPodAutoscaler"][0]["spec"]
check(hpa["scaleTargetRef"]["kind"] == "Deployment" and
      hpa["scaleTargetRef"]["name"] == dep["metadata"]["name"],
      "the HPA scales the Deployment")
kinds = {m["type"]: m for m in hpa["metrics"]}
check(kinds.get("Resource", {}).get("resource", {}).get("name") == "cpu",
      "the HPA scales on CPU")
metric = kinds.get("Pods", {}).get("pods", {}).get("metric", {}).get("name")
source = open(os.path.join(src, "src/proxy/proxy_metrics.c")).read()
check(metric and re.search(r'METRICS_GAUGE, "%s"' % re.escape(metric),
                           source),
      "the HPA's Pods metric %s is a gauge Loka exports" % metric)
check(1 <= hpa.get("minReplicas", 1) <= hpa["maxReplicas"],
      "HPA replicas %s..%s" % (hpa.get("minReplicas"), hpa["maxReplicas"]))

# The NetworkPolicy.
np = by_kind["NetworkPolicy"][0]["spec"]
check(selects(np["podSelector"]["matchLabels"]) and
      set(np["policyTypes"]) == {"Ingress", "Egress"},
      "NetworkPolicy on the pods, ingress and egress")
ing = np["ingress"]
open_ports = [p["port"] for r in ing if not r.get("from")
              for p in r["ports"]]
check(open_ports == ["stratum"], "ingress from anywhere: Stratum only",
      open_ports)
mon = [r for r in ing if any(p["port"] == "metrics" for p in r["ports"])]
check(len(mon) == 1 and mon[0].get("from") == [{"namespaceSelector": {
      "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
      "ingress to the API port from the monitoring namespace only")
eg = {(p.get("port"), p.get("protocol", "TCP")) for r in np["egress"]
      for p in r["ports"]}
check({(53, "UDP"), (53, "TCP"), (3333, "TCP"), (5432, "TCP")} <= eg,
      "egress: DNS, pools (3333), PostgreSQL (5432)", sorted(eg, key=str))

url = base64.b64decode(secret["data"]["database-url"]).decode().strip()
if overlay == "postgres":
    check(url.startswith("postgresql://"), "overlay postgres: the Secret's "
          "database-url is a PostgreSQL URL (value not shown)")
    db = [r for r in np["egress"]
          if any(p.get("port") == 5432 for p in r["ports"])]
    check(len(db) == 1 and db[0].get("to", [{}])[0].get(
        "namespaceSelector"), "overlay postgres: 5432 only to the "
          "database's namespace")
else:
    check(url.startswith("sqlite:///var/lib/loka-stratum/"),
          "base: SQLite in the state volume")
finish()
