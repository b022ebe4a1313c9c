"""A real node for the control plane: containerd with its CRI plugin, the CNI bridge, kubelet and kube-proxy.

Pods on it are real containers of real images: the kubelet (built with the control plane) runs them through
containerd and runc, with their security contexts, volumes, probes and resource limits; kube-proxy (iptables,
every Service connection masqueraded so pod-to-pod replies come back through the host) gives Services their
ClusterIPs; `cluster_dns.ClusterDns` stands in for CoreDNS. The pod network is a bridge on this host
(`NODE_GATEWAY`/24) where the API server is advertised, so pods reach it through the `kubernetes` Service.

Built for these machines (docs/control-plane.md, "The real node"): cgroups v1 through cgroupfs and runc,
`failCgroupV1: false`, `restrict_oom_score_adj` (no CAP_SYS_RESOURCE), no registry (images are moved in from
podman's store, the sandbox image included), and the machine is left as found: the kernel settings kubelet and
kube-proxy change are read first and written back, the pods' containers, network namespaces, mounts and
iptables rules are removed, and only the imported images stay (in containerd's root under the cache folder,
so the next run does not import 6 GB again).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from control_plane.api import ApiClient, ApiError
from control_plane.binaries import Binaries
from control_plane.cluster_dns import ClusterDns
from control_plane.kubeconfig import write_kubeconfig
from control_plane.pki import NODE_GATEWAY, NODE_NAME, Pki
from control_plane.processes import ManagedProcess, pick_free_ports, start_process

BRIDGE = "nago0"
POD_SUBNET = f"{NODE_GATEWAY.rsplit('.', 1)[0]}.0/24"
SANDBOX_IMAGE = "localhost/nago-pause:dev"
NODE_IMAGES = (SANDBOX_IMAGE, "localhost/nago-redis:dev", "localhost/nago-operator:dev", "localhost/nago-trainer:dev")
# What kubelet and kube-proxy may write under /proc/sys (and the pod network needs): read before, restored after.
KERNEL_SETTINGS = (
    "vm/overcommit_memory",
    "kernel/panic",
    "kernel/panic_on_oops",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
)
# podman's settings for these machines, written by `make images` into its cache (NAGO_IMAGE_CACHE)
CONTAINERS_CONF = (
    Path(os.environ.get("NAGO_IMAGE_CACHE", Path.home() / ".cache" / "nago" / "images")) / "containers.conf"
)


class NodeError(RuntimeError):
    """The node could not be set up; the message says what is missing or what failed."""


def node_cache_directory() -> Path:
    configured = os.environ.get("NAGO_NODE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "nago" / "node"


def read_kernel_settings(keys: Sequence[str] = KERNEL_SETTINGS) -> dict[str, str]:
    """The current value of each setting that exists on this kernel."""
    values = {}
    for key in keys:
        with contextlib.suppress(OSError):
            values[key] = (Path("/proc/sys") / key).read_text().strip()
    return values


def restore_kernel_settings(saved: dict[str, str]) -> list[str]:
    """Write back every saved setting that differs now; returns the ones that could not be restored."""
    failed = []
    for key, value in saved.items():
        path = Path("/proc/sys") / key
        try:
            if path.read_text().strip() != value:
                path.write_text(value)
        except OSError:
            failed.append(key)
    return failed


def run_tool(command: Sequence[str], timeout: float = 600, stdin: int | None = None) -> str:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=False, stdin=stdin)
    if result.returncode != 0:
        raise NodeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def build_containerd_config(root: Path, state: Path, socket: Path, cni_config: Path) -> str:
    """containerd 1.6's TOML: its own root, state and socket; CRI with runc on cgroupfs, CNI from Debian."""
    return f"""version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{SANDBOX_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni_config}"
"""


def build_cni_config(ipam_directory: Path) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "nago",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(ipam_directory),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def build_kubelet_config(ca: Path, socket: Path, pod_logs: Path, port: int, healthz_port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # these machines run cgroups v1 (hybrid), which kubelet >= 1.35 refuses by default
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": False,  # no kubepods hierarchy left behind; each container's cgroup goes with it
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{socket}",
        "address": NODE_GATEWAY,  # where the API server reaches it (kubectl logs); the Node's InternalIP
        "port": port,
        "healthzPort": healthz_port,
        "readOnlyPort": 0,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [NODE_GATEWAY],
        "clusterDomain": "cluster.local",
        "podLogsDir": str(pod_logs),
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "registerNode": True,
    }


def build_kube_proxy_config(kubeconfig: Path, healthz_port: int, metrics_port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE_NAME,
        "clusterCIDR": POD_SUBNET,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        # Pod -> Service -> pod on one bridge: the reply would bypass the host's NAT without br_netfilter;
        # masquerading every Service connection brings it back through the host.
        "iptables": {"masqueradeAll": True, "localhostNodePorts": False},
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }


IPTABLES = ("iptables", "ip6tables")
OUR_CHAIN_PREFIXES = ("KUBE-", "CNI-")


def read_iptables(binary: str) -> dict[str, tuple[set[str], list[str]]]:
    """By table: (chains declared, rules) as `<binary>-save` prints them (rules as their `-A ...` lines)."""
    result = subprocess.run([f"{binary}-save"], capture_output=True, text=True, check=False)
    tables: dict[str, tuple[set[str], list[str]]] = {}
    table = ""
    for line in result.stdout.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table] = (set(), [])
        elif line.startswith(":") and table:
            tables[table][0].add(line[1:].split()[0])
        elif line.startswith("-A ") and table:
            tables[table][1].append(line)
    return tables


def find_our_iptables_changes(
    before: dict[str, tuple[set[str], list[str]]], after: dict[str, tuple[set[str], list[str]]]
) -> list[tuple[str, list[str], list[str]]]:
    """By table: (table, rules to delete, chains to delete) that the node added: new KUBE-* and CNI-* chains
    and the new rules in them, jumping to them, or marked as the node's CNI network ("nago"). Rules and chains
    that were there before (podman's own CNI chains, say) are never touched."""
    changes = []
    for table, (chains, rules) in after.items():
        old_chains, old_rules = before.get(table, (set(), []))
        new_chains = {c for c in chains - old_chains if c.startswith(OUR_CHAIN_PREFIXES)}
        ours = []
        for rule in set(rules) - set(old_rules):
            words = rule.split()
            target = words[words.index("-j") + 1] if "-j" in words[:-1] else ""
            if words[1] in new_chains or target in new_chains or 'name: \\"nago\\"' in rule:
                ours.append(rule)
        if ours or new_chains:
            changes.append((table, sorted(ours), sorted(new_chains)))
    return changes


def undo_iptables_changes(binary: str, changes: list[tuple[str, list[str], list[str]]]) -> list[str]:
    """Delete the rules, then flush and delete the chains; returns what could not be undone."""
    problems = []
    for table, rules, chains in changes:
        for rule in rules:
            arguments = shlex.split(rule)[1:]
            command = [binary, "-w", "-t", table, "-D", *arguments]
            if subprocess.run(command, capture_output=True, check=False).returncode != 0:
                problems.append(f"{binary} -t {table}: {rule}")
        for chain in chains:
            subprocess.run([binary, "-w", "-t", table, "-F", chain], capture_output=True, check=False)
        for chain in chains:
            if subprocess.run([binary, "-w", "-t", table, "-X", chain], capture_output=True, check=False).returncode:
                problems.append(f"{binary} -t {table}: chain {chain}")
    return problems


def list_mounts_under(directories: Sequence[Path]) -> list[str]:
    """Mount points below any of `directories`, deepest first (the order to unmount them in)."""
    prefixes = [str(directory.resolve()) + "/" for directory in directories]
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point.startswith(prefix) for prefix in prefixes):
            points.append(point)
    return sorted(set(points), key=lambda point: point.count("/"), reverse=True)


@dataclass
class RealNode:
    """kubelet + containerd + kube-proxy + cluster DNS on this machine, registered as Node `NODE_NAME`."""

    binaries: Binaries
    pki: Pki
    server: str
    admin: ApiClient
    state_directory: Path  # short: containerd's socket path must fit a sockaddr (108 bytes)
    log_directory: Path
    processes: list[ManagedProcess] = field(default_factory=list)
    dns: ClusterDns | None = None
    saved_kernel_settings: dict[str, str] = field(default_factory=dict)
    network_namespaces_before: set[str] = field(default_factory=set)
    iptables_before: dict[str, dict[str, tuple[set[str], list[str]]]] = field(default_factory=dict)
    cleanup_problems: list[str] = field(default_factory=list)
    lock: int | None = None  # a machine-wide lock: one real node at a time (its bridge, port 53, iptables chains)

    @property
    def containerd_socket(self) -> Path:
        return self.state_directory / "containerd.sock"

    @property
    def containerd_root(self) -> Path:
        return node_cache_directory() / "containerd"

    def ctr(self, *arguments: str, timeout: float = 600, stdin: int | None = None) -> str:
        return run_tool(["ctr", "-a", str(self.containerd_socket), "-n", "k8s.io", *arguments], timeout, stdin)

    def start(self) -> None:
        for tool in ("containerd", "runc", "ctr", "iptables", "ip", "podman"):
            if shutil.which(tool) is None:
                raise NodeError(f"{tool} is not installed; run `bash scripts/install-container-tools.sh`")
        self.lock = os.open("/run/nago-real-node.lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self.lock, fcntl.LOCK_EX)  # another session's node: wait until it has stopped
        self.saved_kernel_settings = read_kernel_settings()
        self.iptables_before = {binary: read_iptables(binary) for binary in IPTABLES}
        self.network_namespaces_before = set(os.listdir("/var/run/netns")) if Path("/var/run/netns").is_dir() else set()
        (Path("/proc/sys") / "net/ipv4/ip_forward").write_text("1")  # pods -> Services -> pods through the host
        self._create_bridge()
        self._start_containerd()
        self._import_images()
        self._start_kubelet()
        self._start_kube_proxy()
        self.dns = ClusterDns(self.admin, NODE_GATEWAY)
        self.dns.start()

    def _create_bridge(self) -> None:
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)  # a crashed run's
        run_tool(["ip", "link", "add", BRIDGE, "type", "bridge"])
        run_tool(["ip", "addr", "add", f"{NODE_GATEWAY}/24", "dev", BRIDGE])
        run_tool(["ip", "link", "set", BRIDGE, "up"])

    def _start_containerd(self) -> None:
        cni = self.state_directory / "cni"
        cni.mkdir(parents=True, exist_ok=True)
        (cni / "10-nago.conflist").write_text(json.dumps(build_cni_config(self.state_directory / "ipam"), indent=1))
        self.containerd_root.mkdir(parents=True, exist_ok=True)
        config = self.state_directory / "containerd.toml"
        config.write_text(
            build_containerd_config(
                self.containerd_root, self.state_directory / "containerd", self.containerd_socket, cni
            )
        )
        process = start_process(
            "containerd", ["containerd", "--config", str(config)], self.log_directory / "containerd.log"
        )
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while not self.containerd_socket.exists():
            if not process.is_running() or time.monotonic() > deadline:
                raise NodeError(f"containerd did not start:\n{process.read_log_tail()}")
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.ctr("version", timeout=10)
                return
            except NodeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def _import_images(self) -> None:
        """Move each image from podman's store into containerd's, unless that exact image is already there; an
        earlier build of it is removed first, with the content and snapshots only it used, so the store keeps
        one copy of each image however often they are rebuilt."""
        env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
        marker = self.containerd_root / "nago-imported.json"
        imported: dict[str, str] = json.loads(marker.read_text()) if marker.exists() else {}
        present = set(self.ctr("images", "ls", "-q").split())
        for image in NODE_IMAGES:
            found = subprocess.run(
                ["podman", "image", "inspect", "--format", "{{.Id}}", image],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            if found.returncode != 0:
                raise NodeError(f"image {image} is not in podman's store; build it with `make images`")
            image_id = found.stdout.strip()
            if imported.get(image) == image_id and image in present:
                continue
            if image in present:  # an earlier build: remove it with its layers first (6 GB each for two images)
                self.ctr("images", "rm", "--sync", image, timeout=300)
            with subprocess.Popen(["podman", "save", image], stdout=subprocess.PIPE, env=env) as save:
                self.ctr("images", "import", "-", stdin=save.stdout.fileno() if save.stdout else None)
            if save.returncode != 0:
                raise NodeError(f"podman save {image} exited {save.returncode}")
            imported[image] = image_id
            marker.write_text(json.dumps(imported, indent=1))
        missing = set(NODE_IMAGES) - set(self.ctr("images", "ls", "-q").split())
        if missing:
            raise NodeError(f"containerd did not take images {sorted(missing)} (it has: {sorted(present)})")

    def _start_kubelet(self) -> None:
        root = self.state_directory / "kubelet"
        root.mkdir(parents=True, exist_ok=True)
        port, healthz = pick_free_ports(2)
        config = root / "config.yaml"
        kubelet_config = build_kubelet_config(
            self.pki.ca.certificate, self.containerd_socket, self.state_directory / "pod-logs", port, healthz
        )
        config.write_text(yaml.safe_dump(kubelet_config))
        kubeconfig = write_kubeconfig(
            root / "kubeconfig", self.server, self.pki.ca.certificate, f"system:node:{NODE_NAME}", self.pki.node
        )
        command = [
            str(self.binaries.kubelet), f"--config={config}", f"--kubeconfig={kubeconfig}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={NODE_GATEWAY}", f"--root-dir={root}",
            f"--cert-dir={root / 'pki'}", "--v=1",
        ]  # fmt: skip
        process = start_process("kubelet", command, self.log_directory / "kubelet.log")
        self.processes.append(process)
        deadline = time.monotonic() + 120
        while not self._node_is_ready():
            if not process.is_running() or time.monotonic() > deadline:
                raise NodeError(f"the kubelet did not make Node {NODE_NAME} Ready:\n{process.read_log_tail()}")
            time.sleep(0.5)

    def _node_is_ready(self) -> bool:
        try:
            node = self.admin.get(f"/api/v1/nodes/{NODE_NAME}")
        except ApiError:
            return False
        conditions = node.get("status", {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def _start_kube_proxy(self) -> None:
        directory = self.state_directory / "kube-proxy"
        directory.mkdir(parents=True, exist_ok=True)
        kubeconfig = write_kubeconfig(
            directory / "kubeconfig", self.server, self.pki.ca.certificate, "system:kube-proxy", self.pki.kube_proxy
        )
        healthz, metrics = pick_free_ports(2)
        config = directory / "config.yaml"
        config.write_text(yaml.safe_dump(build_kube_proxy_config(kubeconfig, healthz, metrics)))
        process = start_process(
            "kube-proxy", [str(self.binaries.kube_proxy), f"--config={config}", "--v=1"],
            self.log_directory / "kube-proxy.log",
        )  # fmt: skip
        self.processes.append(process)

    def stop(self) -> None:
        """Remove every pod's containers and network, stop the node's processes, leave the machine as found."""
        self._remove_pods()
        if self.dns is not None:
            self.dns.stop()
        for process in reversed(self.processes):  # kube-proxy, kubelet, then containerd
            if process.name == "containerd" and process.is_running():
                self._remove_leftover_containers()
            process.stop()
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run([str(self.binaries.kube_proxy), "--cleanup"], capture_output=True, timeout=60, check=False)
        for binary, before in self.iptables_before.items():  # the kubelet's chains, CNI's masquerading, leftovers
            changes = find_our_iptables_changes(before, read_iptables(binary))
            self.cleanup_problems += undo_iptables_changes(binary, changes)
        self._remove_network_namespaces()
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
        for point in list_mounts_under([self.state_directory, self.containerd_root]):
            if subprocess.run(["umount", "-l", point], capture_output=True, check=False).returncode != 0:
                self.cleanup_problems.append(f"could not unmount {point}")
        self.cleanup_problems += [
            f"kernel setting {k} not restored" for k in restore_kernel_settings(self.saved_kernel_settings)
        ]
        shutil.rmtree(self.state_directory, ignore_errors=True)
        if self.lock is not None:
            os.close(self.lock)  # releases the flock
            self.lock = None

    def _remove_pods(self) -> None:
        """Delete every pod at once and let the kubelet stop its containers and tear down its network."""
        with contextlib.suppress(ApiError, OSError):
            for pod in self.admin.get("/api/v1/pods")["items"]:
                metadata = pod["metadata"]
                with contextlib.suppress(ApiError):
                    self.admin.delete(
                        f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}",
                        {"gracePeriodSeconds": 0},
                    )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if not self.ctr("tasks", "ls", "-q", timeout=10).split():
                    return
            except NodeError:
                return
            time.sleep(0.5)

    def _remove_leftover_containers(self) -> None:
        """What the kubelet did not remove (a test that stopped it mid-pod): kill and delete through containerd."""
        with contextlib.suppress(NodeError):
            for task in self.ctr("tasks", "ls", "-q", timeout=30).split():
                with contextlib.suppress(NodeError):
                    self.ctr("tasks", "kill", "-s", "SIGKILL", task, timeout=30)
            time.sleep(1)
            for task in self.ctr("tasks", "ls", "-q", timeout=30).split():
                with contextlib.suppress(NodeError):
                    self.ctr("tasks", "delete", "-f", task, timeout=30)
            for container in self.ctr("containers", "ls", "-q", timeout=30).split():
                with contextlib.suppress(NodeError):
                    self.ctr("containers", "rm", container, timeout=30)
            left = self.ctr("containers", "ls", "-q", timeout=30).split()
            if left:
                self.cleanup_problems.append(f"containers left in containerd: {left}")

    def _remove_network_namespaces(self) -> None:
        directory = Path("/var/run/netns")
        if not directory.is_dir():
            return
        for name in set(os.listdir(directory)) - self.network_namespaces_before:
            if name.startswith("cni-"):
                subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
