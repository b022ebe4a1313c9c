"""The Helm chart (issue 8): lint, template for each mode, values refused by the schema,
install into the real API server under the restricted Pod Security Standard, upgrade, uninstall, and the
ServiceAccount's least privilege: refusals checked by impersonation, and the operator running a search with
the ServiceAccount's own token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from control_plane import ApiClient, ControlPlane
from control_plane.waiting import wait_for
from nago_operator.kube_api import KubeError, connect
from operator_harness import OperatorProcess, apply_search, build_search, wait_for_phase
from redis_server import RedisServer

pytestmark = pytest.mark.cluster

REPOSITORY = Path(__file__).resolve().parents[2]
CHART = REPOSITORY / "charts" / "nago-operator"
EXAMPLES = REPOSITORY / "examples"
README = REPOSITORY / "README.md"
VARIANTS = {
    "defaults": [],
    "namespaced RBAC": ["--set", "watch.mode=namespaces", "--set", "watch.namespaces={team-a,team-b}"],
    "external Redis": ["--set", "redis.bundled=false", "--set", "redis.external.url=redis://redis.example:6379/0",
                       "--set", "redis.external.existingSecret=redis-auth"],
    "metrics off": ["--set", "metrics.enabled=false"],
}  # fmt: skip
REFUSED = [
    (["--set", "operator.workers=0"], "/operator/workers"),
    (["--set", "operator.replicas=0"], "/operator/replicas"),
    (["--set", "operator.leaseSeconds=1"], "/operator/leaseSeconds"),
    (["--set", "operator.proposalProcesses=0"], "/operator/proposalProcesses"),
    (["--set", "watch.mode=everything"], "/watch/mode"),
    (["--set", "redis.bundled=false"], "/redis/external"),
    (["--set", "watch.mode=namespaces"], "/watch/namespaces"),
    (["--set", "operator.logLevel=LOUD"], "/operator/logLevel"),
    (["--set", "metrics.port=70000"], "/metrics/port"),
    (["--set", "unknownKey=1"], "unknownKey"),
]


def test_the_default_rendering_is_hardened(control_plane: ControlPlane) -> None:
    """What the restricted standard does not check: two replicas (one active by the Lease, spread over nodes, rolled
    without a gap), probes, resources, read-only root filesystems, Redis's append-only persistence on a claim and a
    generated password."""
    documents = {
        d["kind"]: d for d in yaml.safe_load_all(control_plane.helm("template", "nago", str(CHART)).stdout) if d
    }
    deployment, redis = documents["Deployment"]["spec"], documents["StatefulSet"]["spec"]
    assert deployment["replicas"] == 2
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    operator_pod = deployment["template"]["spec"]
    env = {e["name"]: e for e in operator_pod["containers"][0]["env"]}
    assert env["NAGO_LEASE_NAME"]["value"] == "nago-nago-operator"
    assert env["NAGO_LEASE_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    spread = operator_pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert spread["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    single = yaml.safe_load_all(
        control_plane.helm("template", "nago", str(CHART), "--set", "operator.replicas=1").stdout
    )
    assert "affinity" not in next(d for d in single if d and d["kind"] == "Deployment")["spec"]["template"]["spec"]
    for pod in (deployment["template"]["spec"], redis["template"]["spec"]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        assert container["livenessProbe"] and container["readinessProbe"] and container["resources"]["limits"]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
    assert "--appendonly yes" in " ".join(redis["template"]["spec"]["containers"][0]["command"])
    assert redis["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert len(documents["Secret"]["data"]["password"]) >= 40  # 32 random characters, base64


def _kinds(rendered: str) -> list[str]:
    return sorted(d["kind"] for d in yaml.safe_load_all(rendered) if d)


def test_the_chart_lints(control_plane: ControlPlane) -> None:
    control_plane.helm("lint", str(CHART), "--strict")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_chart_renders(control_plane: ControlPlane, variant: str) -> None:
    kinds = _kinds(control_plane.helm("template", "nago", str(CHART), *VARIANTS[variant]).stdout)
    assert "Deployment" in kinds and "ServiceAccount" in kinds
    assert ("StatefulSet" in kinds) == (variant != "external Redis")
    assert kinds.count("Service") == (1 if variant in ("external Redis", "metrics off") else 2)  # Redis, metrics
    if variant == "defaults":  # placement values reach both pods
        placed = control_plane.helm("template", "nago", str(CHART), "--set", "redis.nodeSelector.disk=ssd",
                                    "--set", "operator.tolerations[0].key=gpu").stdout  # fmt: skip
        documents = {d["kind"]: d for d in yaml.safe_load_all(placed) if d}
        assert documents["StatefulSet"]["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}
        assert documents["Deployment"]["spec"]["template"]["spec"]["tolerations"] == [{"key": "gpu"}]
    if variant == "namespaced RBAC":
        assert kinds.count("RoleBinding") == 3 and kinds.count("ClusterRoleBinding") == 1  # 2 namespaces, the Lease


@pytest.mark.parametrize(("values", "named"), REFUSED, ids=[v[1] for v in REFUSED])
def test_bad_values_are_refused_naming_the_key(control_plane: ControlPlane, values: list[str], named: str) -> None:
    result = control_plane.helm("template", "nago", str(CHART), *values, check=False)
    assert result.returncode != 0 and named in result.stderr, result.stderr


def _restricted_namespace(kube: ApiClient, namespace: str) -> None:
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    kube.patch(f"/api/v1/namespaces/{namespace}", {"metadata": {"labels": labels}})


def test_install_upgrade_uninstall_under_the_restricted_standard(
    control_plane: ControlPlane, kube: ApiClient, namespace: str, generator_search_crd: str
) -> None:
    _restricted_namespace(kube, namespace)
    with pytest.raises(Exception, match="violates PodSecurity"):  # enforcement is really on
        kube.create(f"/api/v1/namespaces/{namespace}/pods", {
            "metadata": {"name": "privileged"},
            "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]},
        })  # fmt: skip
    release = "nago"
    selector = ("--set", "operator.nodeSelector.nago-test=nowhere",  # pods admitted, never run here
                "--set", "redis.nodeSelector.nago-test=nowhere")  # fmt: skip
    installed = control_plane.helm("install", release, str(CHART), "--namespace", namespace, *selector,
                                   "--set", "redis.persistence.storageClass=none")  # fmt: skip
    assert f"is installed in namespace {namespace}" in installed.stdout and "kubectl get gs -w" in installed.stdout
    for path in (f"/apis/apps/v1/namespaces/{namespace}/deployments/{release}-nago-operator",
                 f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{release}-nago-operator-redis",
                 f"/api/v1/namespaces/{namespace}/secrets/{release}-nago-operator-redis",
                 f"/api/v1/namespaces/{namespace}/serviceaccounts/{release}-nago-operator",
                 f"/api/v1/namespaces/{namespace}/services/{release}-nago-operator-metrics"):  # fmt: skip
        assert kube.exists(path), path

    def admitted_pods() -> set[str] | None:
        pods = kube.get(
            f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": "app.kubernetes.io/name=nago-operator"}
        )["items"]
        components = {p["metadata"]["labels"].get("app.kubernetes.io/component", "operator") for p in pods}
        return components if components == {"operator", "redis"} else None

    wait_for("the operator's and Redis's pods admitted under the restricted standard", admitted_pods, timeout=120)
    password = kube.get(f"/api/v1/namespaces/{namespace}/secrets/{release}-nago-operator-redis")["data"]["password"]
    control_plane.helm("upgrade", release, str(CHART), "--namespace", namespace, "--reuse-values",
                       "--set", "operator.workers=8")  # fmt: skip
    after = kube.get(f"/api/v1/namespaces/{namespace}/secrets/{release}-nago-operator-redis")["data"]["password"]
    assert after == password  # the generated password survives upgrades
    deployment = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{release}-nago-operator")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NAGO_WORKERS"] == "8"
    control_plane.helm("uninstall", release, "--namespace", namespace)
    assert not kube.exists(f"/apis/apps/v1/namespaces/{namespace}/deployments/{release}-nago-operator")


def test_the_service_account_has_least_privilege_and_enough_to_run_a_search(
    control_plane: ControlPlane, kube: ApiClient, namespace: str, generator_search_crd: str,
    redis_for_operator: RedisServer, tmp_path: Path,
) -> None:  # fmt: skip
    control_plane.helm("install", "rbac", str(CHART), "--namespace", namespace, "--set", "watch.mode=namespaces",
                       "--set", f"watch.namespaces={{{namespace}}}",
                       "--set", "operator.nodeSelector.nago-test=nowhere")  # fmt: skip
    account = f"system:serviceaccount:{namespace}:rbac-nago-operator"
    allowed = [("create", "jobs.batch", namespace), ("patch", "generatorsearches.nago.dev/status", namespace),
               ("create", "events", namespace), ("list", "pods", namespace), ("watch", "pods", namespace),
               ("watch", "jobs.batch", namespace), ("update", "leases.coordination.k8s.io", namespace),
               ("get", "configmaps", namespace), ("watch", "namespaces", None)]  # fmt: skip
    refused = [("get", "secrets", "kube-system"), ("create", "leases.coordination.k8s.io", "default"),
               ("create", "jobs.batch", "default"), ("list", "nodes", None),
               ("create", "deployments.apps", namespace), ("delete", "namespaces", None),
               ("delete", "secrets", namespace), ("create", "pods", namespace)]  # fmt: skip
    for verb, resource, where in allowed + refused:
        scope = ["--namespace", where] if where else []
        answer = control_plane.kubectl("auth", "can-i", verb, resource, "--as", account, *scope, check=False)
        expected = "yes" if (verb, resource, where) in allowed else "no"
        assert answer.stdout.strip() == expected, (verb, resource, where, answer.stdout, answer.stderr)

    # The operator itself, logged in with a token of the chart's ServiceAccount (the identity its pod has) that an
    # exec plugin prints, the way EKS, GKE and AKS kubeconfigs log in.
    kubeconfig = control_plane.write_service_account_kubeconfig(
        namespace, "rbac-nago-operator", tmp_path / "sa.yaml", exec_plugin=True
    )
    identity = connect(kubeconfig)
    assert identity.get(f"/api/v1/namespaces/{namespace}/pods")["kind"] == "PodList"
    assert (tmp_path / "sa.yaml.exec-calls").read_text().count("called") >= 1  # the plugin gave the login
    for path in ("/api/v1/namespaces/kube-system/secrets", "/api/v1/namespaces/default/secrets"):
        with pytest.raises(KubeError) as refusal:
            identity.get(path)
        assert refusal.value.status == 403, path
    operator = OperatorProcess(
        control_plane,
        redis_for_operator,
        namespace,
        tmp_path / "operator.log",
        kubeconfig,
        extra_env={"NAGO_LEASE_NAME": "rbac-nago-operator", "NAGO_LEASE_NAMESPACE": namespace},
    )
    operator.start()
    try:
        apply_search(kube, namespace, build_search("rbac", {"kind": "random", "seed": 1}, max_trials=3))
        search = wait_for_phase(kube, namespace, "rbac", ("Succeeded", "Failed"), operator)
        assert search["status"]["phase"] == "Succeeded", search["status"]
        assert search["status"]["progress"] == "3/3"
        _run_the_readme_report_commands(control_plane, namespace, "rbac", tmp_path)
        report = (tmp_path / f"results-{namespace}-rbac" / "report.md").read_text()  # gs/NAME: the context's
        assert search["status"]["best"]["trial"] in report, report
        kube.delete(f"/apis/nago.dev/v1alpha1/namespaces/{namespace}/generatorsearches/rbac")
        wait_for("the finalizer run under the ServiceAccount", lambda: not kube.exists(
            f"/apis/nago.dev/v1alpha1/namespaces/{namespace}/generatorsearches/rbac"), timeout=120)  # fmt: skip
    finally:
        operator.stop()
    log = operator.read_log()
    assert "403" not in log and "Forbidden" not in log, log[-4000:]


def _run_the_readme_report_commands(plane: ControlPlane, namespace: str, search: str, folder: Path) -> None:
    """The README's "Results" commands (`nago report --from-cluster gs/NAME`), verbatim but for the search's name,
    in a shell with kubectl and nago on the PATH and the test's namespace as the kubeconfig's current one."""
    text = README.read_text()
    start = text.index("```sh\n", text.index("**Results.**")) + len("```sh\n")
    commands = text[start : text.index("```", start)].replace("fashion-mnist-bo", search)
    kubeconfig = folder / "user.kubeconfig"
    kubeconfig.write_bytes(plane.kubeconfig.read_bytes())
    plane.kubectl("config", "set-context", "--current", f"--namespace={namespace}", f"--kubeconfig={kubeconfig}")
    tools = f"{plane.binaries.kubectl.parent}:{Path(sys.executable).parent}"
    env = {**plane.command_environment(), "KUBECONFIG": str(kubeconfig), "PATH": f"{tools}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=folder, env=env, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, (commands, result.stdout, result.stderr)


def test_kubectl_apply_accepts_every_example(
    control_plane: ControlPlane, kube: ApiClient, namespace: str, generator_search_crd: str
) -> None:
    """What a user runs after `helm install`, as a server-side dry run in a namespace enforcing the restricted
    standard (the dataset Job's pod template must pass it: kubectl would print a PodSecurity warning)."""
    _restricted_namespace(kube, namespace)
    files = sorted(EXAMPLES.rglob("*.yaml"))
    kinds = [d["kind"] for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    assert kinds.count("GeneratorSearch") == 8 and {"PersistentVolumeClaim", "Job"} <= set(kinds), kinds
    for path in files:
        result = control_plane.kubectl("apply", "--dry-run=server", "--namespace", namespace, "-f", str(path))
        assert "PodSecurity" not in result.stderr and "Warning" not in result.stderr, (path, result.stderr)
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                shown = f"{document['metadata']['name']} created (server dry run)"
                assert shown in result.stdout, (path, result.stdout)
