#!/usr/bin/env python3
"""Checks one rendered set of manifests (the output of `kubectl kustomize`) for what
kubernetes-validate cannot see, and writes out the core resources for it to validate.

- Custom resources (RabbitmqCluster, ScaledObject, TriggerAuthentication) are validated against
  the JSON schemas in deploy/k8s/schemas/; a resource of any other API group that is not
  Kubernetes' own has no schema and fails.
- The platform's own rules: every container runs non-root on a read-only root file system with
  no privilege escalation and no capabilities, with resource requests and limits and the three
  probes; the order service runs two replicas (active and standby) with an update strategy
  that does not wait for the standby to become ready, and a PodDisruptionBudget that lets the
  standby be evicted; each consumer's ScaledObject scales it between 1 and its shard count,
  on its own shard queues; every service gets only the ORDERS__ settings it knows; the names
  that resources refer to exist.

Usage: validate_custom_resources.py RENDERED.yaml CORE_OUT.yaml [LABEL]
Prints one line per problem and exits 1 if there is any.
"""

import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMAS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmqcluster-rabbitmq.com-v1beta1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-keda.sh-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication-keda.sh-v1alpha1.json",
}

ORDER_SERVICE = "order-service"
CONSUMERS = {"inventory-service": "inventory", "billing-service": "billing",
             "notification-service": "notification"}
DEFAULT_SHARDS = 8
DEFAULT_AMQP_NAMESPACE = "orders"
DEFAULT_OUTBOX_CONSUMERS = "inventory,billing,notification"

# The settings of the README's configuration table, as ORDERS__ variables, and which services
# know them (a service refuses a key it does not know). The secrets among them may also be
# given as <NAME>_FILE (SECRET_FILE_KEYS).
COMMON_KEYS = {
    "HTTP__ADDR", "HTTP__WORKERS", "HTTP__MAX_BODY_BYTES", "HTTP__TLS__CERT_FILE",
    "HTTP__TLS__KEY_FILE", "HTTP__ALLOWED_HOSTS", "HTTP__BODY_TIMEOUT_MS", "DATA_DIR", "LOG__FORMAT", "LOG__LEVEL", "AMQP__URL",
    "AMQP__NAMESPACE", "AMQP__PREFETCH", "AMQP__DELIVERY_LIMIT", "AMQP__MAX_ATTEMPTS",
    "AMQP__RETRY_DELAYS_MS", "AMQP__PUBLISH_TIMEOUT_MS", "AMQP__TLS__CA_FILE",
    "AMQP__TLS__CERT_FILE", "AMQP__TLS__KEY_FILE", "AUTH__TOKENS_FILE",
    "AUTH__FAILURE_LIMIT", "AUTH__LOCKOUT_SECS", "AUTH__FIRST_TOKEN", "AUTH__JWT__JWKS_FILE",
    "AUTH__JWT__JWKS_URL", "AUTH__JWT__ISSUER", "AUTH__JWT__AUDIENCE", "AUTH__JWT__ROLES_CLAIM",
    "SHARDS",
}
ORDER_KEYS = {
    "STORAGE__COMPACT_AFTER_BYTES", "STORAGE__IDEMPOTENCY_TTL_SECS", "TRANSPORT",
    "OUTBOX__ENABLED", "OUTBOX__BATCH_SIZE", "OUTBOX__FAILURE_AFTER_MS",
    "OUTBOX__MAX_BACKOFF_MS", "OUTBOX__CONSUMERS",
}
CONSUMER_KEYS = {"REPLICA_ID"}
SECRET_FILE_KEYS = {"AMQP__URL", "SMTP__URL"}
NOTIFICATION_KEYS = {"SMTP__URL", "SMTP__FROM", "SMTP__TIMEOUT_MS", "SMTP__TLS__CA_FILE"}

# Secrets the manifests use but do not create: the ones deploy/README.md tells you to create,
# and the one the RabbitMQ Cluster Operator creates for each RabbitmqCluster.
USER_SECRETS = {"notification-smtp": {"url"}, "orders-tls": {"tls.crt", "tls.key"}}
OPERATOR_SECRET_KEYS = {"username", "password", "host", "port", "connection_string"}


def is_core(api_version):
    """Kubernetes' own API groups: none (v1), a bare name (apps) or a *.k8s.io name."""
    if "/" not in api_version:
        return True
    group = api_version.split("/", 1)[0]
    return "." not in group or group.endswith(".k8s.io")


class Checker:
    def __init__(self, docs):
        self.docs = docs
        self.problems = []
        self.by_kind = {}
        for doc in docs:
            self.by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc

    def fail(self, doc, message):
        self.problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {message}")

    def named(self, kind):
        return self.by_kind.get(kind, {})

    # ------------------------------------------------------------------ custom resources
    def custom_resources(self):
        for doc in self.docs:
            key = (doc["apiVersion"], doc["kind"])
            if is_core(doc["apiVersion"]):
                continue
            if key not in SCHEMAS:
                self.fail(doc, f"no schema for {doc['apiVersion']} {doc['kind']} in {SCHEMA_DIR.name}/")
                continue
            schema = json.loads((SCHEMA_DIR / SCHEMAS[key]).read_text())
            validator = jsonschema.Draft202012Validator(schema)
            for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                path = ".".join(str(part) for part in error.absolute_path) or "(top)"
                self.fail(doc, f"{path}: {error.message}")

    # ------------------------------------------------------------------ pods
    def environment(self, doc, container):
        """The container's variables as the service sees them (envFrom, then env), with
        values, or None for those taken from a Secret or the downward API."""
        values = {}
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef")
            if ref:
                config_map = self.named("ConfigMap").get(ref["name"])
                if config_map is None:
                    self.fail(doc, f"envFrom: no ConfigMap {ref['name']}")
                    continue
                values.update(config_map.get("data", {}))
            if source.get("secretRef"):
                self.fail(doc, "envFrom secretRef: pass secrets one key at a time")
        for variable in container.get("env", []):
            values[variable["name"]] = variable.get("value")
        return values

    def check_env_order(self, doc, container):
        """$(NAME) is expanded only if NAME is declared before, in env or envFrom."""
        declared = set()
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef")
            config_map = self.named("ConfigMap").get(ref["name"]) if ref else None
            if config_map:
                declared.update(config_map.get("data", {}))
        for variable in container.get("env", []):
            for used in re.findall(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)", variable.get("value", "")):
                if used not in declared:
                    self.fail(doc, f"env {variable['name']} uses $({used}), not declared before it")
            declared.add(variable["name"])

    def check_settings(self, doc, service, values):
        allowed = set(COMMON_KEYS)
        if service == ORDER_SERVICE:
            allowed |= ORDER_KEYS
        if service in CONSUMERS:
            allowed |= CONSUMER_KEYS
        if service == "notification-service":
            allowed |= NOTIFICATION_KEYS
        for name in values:
            if not name.startswith("ORDERS__"):
                continue
            key = name[len("ORDERS__"):]
            if key.endswith("_FILE") and key[: -len("_FILE")] in SECRET_FILE_KEYS & allowed:
                key = key[: -len("_FILE")]
            if key not in allowed:
                self.fail(doc, f"{name} is not a setting of {service}: it would refuse to start")

    def check_secret_refs(self, doc, container):
        clusters = self.named("RabbitmqCluster")
        for variable in container.get("env", []):
            ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
            if not ref:
                continue
            name, key = ref["name"], ref["key"]
            if name in self.named("Secret"):
                continue
            if name.endswith("-default-user") and name[: -len("-default-user")] in clusters:
                if key not in OPERATOR_SECRET_KEYS:
                    self.fail(doc, f"env {variable['name']}: the operator's Secret {name} has no key {key}")
            elif name in USER_SECRETS:
                if key not in USER_SECRETS[name]:
                    self.fail(doc, f"env {variable['name']}: Secret {name} is documented with keys "
                                   f"{sorted(USER_SECRETS[name])}, not {key}")
            else:
                self.fail(doc, f"env {variable['name']}: Secret {name} is neither created here, "
                               "nor a RabbitmqCluster's default user, nor one deploy/README.md documents")

    def check_pod(self, doc, service, pod_spec):
        pod_security = pod_spec.get("securityContext", {})
        if pod_spec.get("automountServiceAccountToken") is not False:
            self.fail(doc, "automountServiceAccountToken must be false")
        for field, expected in [("runAsUser", 10001), ("runAsGroup", 10001), ("fsGroup", 10001)]:
            if pod_security.get(field) != expected:
                self.fail(doc, f"securityContext.{field} must be {expected}")
        for volume in pod_spec.get("volumes", []):
            claim = volume.get("persistentVolumeClaim")
            if claim and claim["claimName"] not in self.named("PersistentVolumeClaim"):
                self.fail(doc, f"volume {volume['name']}: no PersistentVolumeClaim {claim['claimName']}")
        for container in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
            where = f"container {container['name']}"
            security = container.get("securityContext", {})
            if security.get("readOnlyRootFilesystem") is not True:
                self.fail(doc, f"{where}: readOnlyRootFilesystem must be true")
            if security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is not True:
                self.fail(doc, f"{where}: runAsNonRoot must be true")
            if security.get("allowPrivilegeEscalation") is not False:
                self.fail(doc, f"{where}: allowPrivilegeEscalation must be false")
            if "ALL" not in security.get("capabilities", {}).get("drop", []):
                self.fail(doc, f"{where}: capabilities must drop ALL")
            seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                self.fail(doc, f"{where}: seccompProfile must be RuntimeDefault")
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(kind, {}):
                        self.fail(doc, f"{where}: no {resource} in resources.{kind}")
            for probe, path in [("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"),
                                ("startupProbe", "/health/live")]:
                got = container.get(probe, {}).get("httpGet", {}).get("path")
                if got != path:
                    self.fail(doc, f"{where}: {probe} must be an httpGet of {path}, not {got}")
            self.check_env_order(doc, container)
            self.check_secret_refs(doc, container)
            self.check_settings(doc, service, self.environment(doc, container))

    # ------------------------------------------------------------------ deployments
    def service_of(self, deployment):
        """Which service a Deployment runs: the name of its first container's binary."""
        containers = deployment["spec"]["template"]["spec"].get("containers", [])
        command = (containers[0].get("command") or [""])[0] if containers else ""
        return command.rsplit("/", 1)[-1]

    def settings_of(self, deployment):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        return self.environment(deployment, container)

    def deployments(self):
        deployments = self.named("Deployment")
        services = {}
        for name, doc in deployments.items():
            service = self.service_of(doc)
            if service != ORDER_SERVICE and service not in CONSUMERS:
                self.fail(doc, f"runs {service or 'no command'}: not one of the platform's services")
                continue
            services[service] = doc
            labels = doc["spec"]["template"]["metadata"].get("labels", {})
            for label in ("app.kubernetes.io/name", "app.kubernetes.io/component"):
                if label not in labels:
                    self.fail(doc, f"pod template has no label {label}")
            if labels.get("app.kubernetes.io/part-of") != "order-platform":
                self.fail(doc, "pod template must be labelled app.kubernetes.io/part-of=order-platform")
            self.check_pod(doc, service, doc["spec"]["template"]["spec"])
        if ORDER_SERVICE not in services:
            self.problems.append(f"no Deployment runs {ORDER_SERVICE}")
        else:
            self.order_service(services[ORDER_SERVICE], services)
        for service, doc in services.items():
            if service in CONSUMERS:
                self.consumer(doc, service, services.get(ORDER_SERVICE))
        return services

    def order_service(self, doc, services):
        spec = doc["spec"]
        replicas = spec.get("replicas", 1)
        if replicas != 2:
            self.fail(doc, f"replicas must be 2 (one active, one standby), not {replicas}")
        strategy = spec.get("strategy", {})
        kind = strategy.get("type", "RollingUpdate")
        if kind == "RollingUpdate":
            # A rolling update waits for new pods to be ready; a new pod stays a standby (not
            # ready) while an old one is active, so the old pods must all be allowed to go.
            unavailable = str(strategy.get("rollingUpdate", {}).get("maxUnavailable", "25%"))
            if unavailable.endswith("%"):
                ok = int(unavailable[:-1]) >= 100
            else:
                ok = int(unavailable) >= replicas
            if not ok:
                self.fail(doc, "strategy: a rolling update would wait forever for the standby to "
                               "become ready; use Recreate or RollingUpdate with maxUnavailable: 100%")
        elif kind != "Recreate":
            self.fail(doc, f"strategy.type {kind}: use Recreate or RollingUpdate with maxUnavailable: 100%")
        for scaled in self.named("ScaledObject").values():
            if scaled["spec"]["scaleTargetRef"]["name"] == doc["metadata"]["name"]:
                self.fail(doc, f"ScaledObject {scaled['metadata']['name']} scales it: the order "
                               "service runs exactly one active replica and one standby")
        budgets = [pdb for pdb in self.named("PodDisruptionBudget").values()
                   if self.selects(pdb["spec"].get("selector", {}), doc)]
        if not budgets:
            self.fail(doc, "no PodDisruptionBudget protects it")
        for pdb in budgets:
            if pdb["spec"].get("unhealthyPodEvictionPolicy") != "AlwaysAllow":
                self.fail(pdb, "unhealthyPodEvictionPolicy must be AlwaysAllow: the standby is "
                               "never ready and would otherwise block node drains")

    def shards_of(self, settings):
        return int(settings.get("ORDERS__SHARDS") or DEFAULT_SHARDS)

    def consumer(self, doc, service, order_doc):
        name = doc["metadata"]["name"]
        short = CONSUMERS[service]
        settings = self.settings_of(doc)
        shards = self.shards_of(settings)
        amqp_namespace = settings.get("ORDERS__AMQP__NAMESPACE") or DEFAULT_AMQP_NAMESPACE

        container = doc["spec"]["template"]["spec"]["containers"][0]
        replica_id = [v for v in container.get("env", []) if v["name"] == "ORDERS__REPLICA_ID"]
        if not replica_id or (replica_id[0].get("valueFrom", {}).get("fieldRef", {})
                              .get("fieldPath") != "metadata.name"):
            self.fail(doc, "ORDERS__REPLICA_ID must come from the pod name (fieldRef metadata.name)")

        if order_doc is not None:
            order_settings = self.settings_of(order_doc)
            entries = {}
            consumers = order_settings.get("ORDERS__OUTBOX__CONSUMERS") or DEFAULT_OUTBOX_CONSUMERS
            for entry in consumers.split(","):
                consumer, _, count = entry.strip().partition(":")
                entries[consumer] = int(count) if count else self.shards_of(order_settings)
            if short not in entries:
                self.fail(doc, f"not in the order service's ORDERS__OUTBOX__CONSUMERS ({consumers})")
            elif entries[short] != shards:
                self.fail(doc, f"ORDERS__SHARDS is {shards} but the order service declares "
                               f"{entries[short]} shard queues for {short}")
            if (order_settings.get("ORDERS__AMQP__NAMESPACE") or DEFAULT_AMQP_NAMESPACE) != amqp_namespace:
                self.fail(doc, "ORDERS__AMQP__NAMESPACE differs from the order service's")

        scaled = [so for so in self.named("ScaledObject").values()
                  if so["spec"]["scaleTargetRef"]["name"] == name]
        if len(scaled) != 1:
            self.fail(doc, f"{len(scaled)} ScaledObjects scale it; it needs exactly one")
            return
        if "replicas" in doc["spec"]:
            self.fail(doc, "has replicas while KEDA scales it: every apply would reset the count")
        so = scaled[0]
        spec = so["spec"]
        target_kind = spec["scaleTargetRef"].get("kind", "Deployment")
        if target_kind != "Deployment":
            self.fail(so, f"scaleTargetRef.kind {target_kind}: the consumers are Deployments")
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if low < 1:
            self.fail(so, f"minReplicaCount {low}: keep at least one replica consuming")
        if high > shards:
            self.fail(so, f"maxReplicaCount {high} exceeds the {shards} shards {name} gets "
                          "(ORDERS__SHARDS): replicas beyond one per shard sit idle")
        if low > high:
            self.fail(so, f"minReplicaCount {low} exceeds maxReplicaCount {high}")
        for trigger in spec.get("triggers", []):
            if trigger.get("type") != "rabbitmq":
                continue
            self.rabbitmq_trigger(so, trigger, amqp_namespace, short, shards)

    def rabbitmq_trigger(self, so, trigger, amqp_namespace, short, shards):
        metadata = trigger.get("metadata", {})
        pattern = metadata.get("queueName", "")
        if metadata.get("useRegex") != "true":
            self.fail(so, "the rabbitmq trigger must sum the shard queues: useRegex \"true\"")
            return
        if metadata.get("operation", "sum") != "sum":
            self.fail(so, "the rabbitmq trigger must use operation sum over the shard queues")
        try:
            regex = re.compile(pattern)
        except re.error as error:
            self.fail(so, f"queueName {pattern!r} is not a regular expression: {error}")
            return
        prefix = f"{amqp_namespace}.{short}"
        for k in range(shards):
            if not regex.search(f"{prefix}.shard.{k}"):
                self.fail(so, f"queueName {pattern!r} misses the shard queue {prefix}.shard.{k}")
        others = [f"{prefix}.shards", f"{prefix}.retry", f"{prefix}.dead-letter",
                  f"{prefix}.delay.1000ms", f"{amqp_namespace}.outcomes"]
        others += [f"{amqp_namespace}.{other}.shard.0" for other in CONSUMERS.values() if other != short]
        for other in others:
            if regex.search(other):
                self.fail(so, f"queueName {pattern!r} also matches {other}, which is not a shard queue of {short}")
        host = metadata.get("host", "")
        match = re.match(r"^https?://([^.:/]+)\.([^.:/]+)\.svc(\.[^:/]+)?:15672/?$", host)
        if not match:
            self.fail(so, f"host {host!r}: expected http://<RabbitmqCluster>.<namespace>.svc:15672/")
        else:
            cluster, namespace = match.group(1), match.group(2)
            if cluster not in self.named("RabbitmqCluster"):
                self.fail(so, f"host {host!r}: no RabbitmqCluster {cluster}")
            elif namespace != so["metadata"].get("namespace"):
                self.fail(so, f"host {host!r}: the broker is in namespace "
                              f"{so['metadata'].get('namespace')}, not {namespace}")
        reference = trigger.get("authenticationRef", {})
        if reference.get("kind", "TriggerAuthentication") == "TriggerAuthentication":
            auth = self.named("TriggerAuthentication").get(reference.get("name"))
            if auth is None:
                self.fail(so, f"no TriggerAuthentication {reference.get('name')}")
            else:
                for ref in auth["spec"].get("secretTargetRef", []):
                    owner = ref["name"][: -len("-default-user")] if ref["name"].endswith("-default-user") else None
                    if ref["name"] not in self.named("Secret") and owner not in self.named("RabbitmqCluster"):
                        self.fail(auth, f"secretTargetRef {ref['parameter']}: no Secret {ref['name']}")

    # ------------------------------------------------------------------ services, ingress
    @staticmethod
    def selects(selector, deployment):
        labels = deployment["spec"]["template"]["metadata"].get("labels", {})
        match = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
        return bool(match) and all(labels.get(k) == v for k, v in match.items())

    def services_and_ingress(self):
        deployments = self.named("Deployment")
        for service in self.named("Service").values():
            selector = service["spec"].get("selector", {})
            targets = [d for d in deployments.values() if self.selects(selector, d)]
            if not targets:
                self.fail(service, "selects no Deployment's pods")
                continue
            ports = {p.get("name") for c in targets[0]["spec"]["template"]["spec"]["containers"]
                     for p in c.get("ports", [])}
            for port in service["spec"].get("ports", []):
                if isinstance(port.get("targetPort"), str) and port["targetPort"] not in ports:
                    self.fail(service, f"targetPort {port['targetPort']} is no container port")
        for ingress in self.named("Ingress").values():
            for rule in ingress["spec"].get("rules", []):
                for path in rule.get("http", {}).get("paths", []):
                    backend = path["backend"]["service"]
                    service = self.named("Service").get(backend["name"])
                    if service is None:
                        self.fail(ingress, f"backend: no Service {backend['name']}")
                        continue
                    names = {p.get("name") for p in service["spec"]["ports"]}
                    numbers = {p.get("port") for p in service["spec"]["ports"]}
                    port = backend["port"]
                    if port.get("name") not in names and port.get("number") not in numbers:
                        self.fail(ingress, f"backend: Service {backend['name']} has no port {port}")
        for pdb in self.named("PodDisruptionBudget").values():
            if not any(self.selects(pdb["spec"].get("selector", {}), d) for d in deployments.values()):
                self.fail(pdb, "selects no Deployment's pods")

    def run(self):
        self.custom_resources()
        self.deployments()
        self.services_and_ingress()
        return self.problems


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    rendered, core_out = Path(sys.argv[1]), Path(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) == 4 else rendered.name
    docs = [doc for doc in yaml.safe_load_all(rendered.read_text()) if doc]
    problems = Checker(docs).run()
    core = [doc for doc in docs if is_core(doc["apiVersion"])]
    core_out.write_text(yaml.safe_dump_all(core, sort_keys=False))
    for problem in problems:
        print(f"  {label}: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
