"""The command line: what a newcomer types, and the one-line errors for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import nago
from helpers import HNAG_MID
from nago.cli import main
from nago.exit_codes import ExitCode
from nago.generator.architecture import read_architecture


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


SMALL = ["--param-budget", "30000", "--head-channels", "32"]


def test_sample_describe_draw_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch_path = tmp_path / "arch.json"
    code, out, _ = _run(
        ["sample", "--theta", json.dumps(HNAG_MID), "--seed", "3", "-o", str(arch_path), *SMALL], capsys
    )
    assert code == ExitCode.OK and "wrote" in out
    arch = read_architecture(arch_path)
    code, out, _ = _run(["describe", "--arch", str(arch_path), "--json"], capsys)
    facts = json.loads(out)
    assert facts["fingerprint"] == arch.fingerprint() and facts["nodes"] == arch.node_count
    code, out, _ = _run(["describe", "--arch", str(arch_path)], capsys)
    assert code == ExitCode.OK and arch.fingerprint() in out and "params" in out
    for suffix in (".png", ".svg"):
        picture = tmp_path / f"arch{suffix}"
        code, _, _ = _run(["draw", "--arch", str(arch_path), "-o", str(picture)], capsys)
        assert code == ExitCode.OK and picture.stat().st_size > 1000
    assert (tmp_path / "arch.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "arch.svg").read_bytes()[:500]


BAD_INPUTS = [
    (
        ["describe", "--theta", json.dumps({**HNAG_MID, "top_nodes": 12})],
        "theta.top_nodes: 12 is out of range [3, 10]",
    ),
    (["describe", "--theta", json.dumps({**HNAG_MID, "top_k": "four"})], "theta.top_k"),
    (["describe", "--theta", json.dumps({**HNAG_MID, "depth": 2})], "theta.depth: unknown parameter"),
    (["describe", "--theta", "{oops"], "--theta: not valid JSON"),
    (["describe", "--theta", "[1, 2]"], "theta: must be a JSON object"),
    (["describe"], "give --theta JSON"),
    (["describe", "--random", "--space", "darts"], "space: unknown space 'darts'"),
    (["describe", "--random", "--input", "32x30x3"], "input: only square inputs"),
    (["describe", "--random", "--input", "big"], "input: expected HxWxC"),
    (["describe", "--random", "--range", "bottom_nodes=3:x"], "--range: expected NAME=LOW:HIGH"),
    (["describe", "--random", "--param-budget", "10"], "param_budget"),
    (["describe", "--arch", "/nonexistent/arch.json"], "cannot read /nonexistent/arch.json"),
    (["draw", "--random", "-o", "picture.gif"], "output: drawing format"),
    (["sample", "--random", "--seed", "-1"], "seed: must be an integer"),
    (["sample", "--bogus"], "unrecognized arguments"),
    (["space-stats", "--samples", "0"], "--samples: must be at least 1"),
    (["search", "/nonexistent/search.yaml"], "manifest: cannot read"),
    (["train", "--trial-json", "{not json"], "--trial-json: is not valid JSON"),
    (["train", "--trial-json", '{"trialId": "t", "seed": -1, "theta": {}}'], "seed: Input should be greater"),
    (
        ["search", "examples/fashion-mnist-quickstart.yaml", "--redis-url", "redis://localhost:1/0"],
        "NAGO_REDIS_PASSWORD",
    ),
    (["report", "/nonexistent/state"], "state_dir: /nonexistent/state is not a search's state folder"),
    (["report"], "state_dir: give a state folder or --from-cluster [NAMESPACE/]NAME (one of them)"),
    (["report", "out/x", "--from-cluster", "ns/x"], "state_dir: give a state folder or --from-cluster"),
    (["report", "out/x", "--kubeconfig", "k.yaml"], "--kubeconfig: applies only with --from-cluster"),
    (["report", "--from-cluster", "Bad/Name"], "--from-cluster: expected NAMESPACE/NAME, gs/NAME or NAME"),
    (["report", "--from-cluster", "a/b/c"], "--from-cluster: expected NAMESPACE/NAME"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NAGO_REDIS_PASSWORD", raising=False)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    code, out, err = _run(argv, capsys)
    assert code == ExitCode.BAD_INPUT
    assert message in err
    assert "Traceback" not in err and not out


def test_report_from_an_unreachable_cluster_says_so_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: k, user: u, namespace: team}}]\n"
    )
    code, out, err = _run(["report", "--from-cluster", "gs/search", "--kubeconfig", str(kubeconfig)], capsys)
    assert code == ExitCode.RUNTIME_FAILURE and not out
    assert (
        err.startswith("nago report: error: the API server https://127.0.0.1:1 cannot be reached")
        and err.count("\n") == 1
    ), err
    code, _, err = _run(["report", "--from-cluster", "x", "--kubeconfig", str(tmp_path / "none.yaml")], capsys)
    assert code == ExitCode.RUNTIME_FAILURE and "KUBECONFIG: cannot read" in err and err.count("\n") == 1


def test_an_unreachable_redis_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAGO_REDIS_PASSWORD", "secret")
    manifest = str(Path(__file__).resolve().parents[2] / "examples" / "fashion-mnist-quickstart.yaml")
    argv = ["search", manifest, "--redis-url", "redis://127.0.0.1:1/0", "--state-dir", str(tmp_path / "s")]
    code, _, err = _run(argv, capsys)
    assert code == ExitCode.BAD_INPUT and "--redis-url: cannot read the metrics stream at redis://127.0.0.1:1/0" in err
    assert not (tmp_path / "s").exists()  # nothing written before the inputs are known good


def test_theta_file_and_ranges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    theta = {**HNAG_MID, "bottom_nodes": 20}
    path = tmp_path / "theta.json"
    path.write_text(json.dumps(theta))
    code, _, err = _run(["describe", "--theta-file", str(path)], capsys)
    assert code == ExitCode.BAD_INPUT and "theta.bottom_nodes" in err
    code, out, _ = _run(["describe", "--theta-file", str(path), "--range", "bottom_nodes=3:20", "--json"], capsys)
    assert code == ExitCode.OK and json.loads(out)["theta"]["bottom_nodes"] == 20


def test_ranges_lists_the_space(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["ranges", "--space", "rnag"], capsys)
    assert code == ExitCode.OK and "9 generator hyperparameters" in out and "stage3_p" in out


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.strip() == f"nago {nago.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", nago.__version__)


def test_help_explains_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for command in ("sample", "describe", "draw", "space-size", "space-stats", "ranges", "train", "search", "report"):
        assert command in out


def test_space_stats_writes_histograms_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["space-stats", "--samples", "4", "--inputs", "32x32x3", "-o", str(tmp_path)]
    code, out, _ = _run(argv, capsys)
    assert code == ExitCode.OK
    summary = json.loads((tmp_path / "space_stats.json").read_text())
    assert set(summary) == {"hnag@32x32x3", "rnag@32x32x3"}
    assert len((tmp_path / "space_samples.jsonl").read_text().splitlines()) == 8
    assert (tmp_path / "space_stats.png").read_bytes()[:4] == b"\x89PNG"
    assert "hnag@32x32x3" in out
