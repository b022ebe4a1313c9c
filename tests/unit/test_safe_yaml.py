"""User files that must be refused in one line, not crash the process or be read two ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from nago.cli import main
from nago.errors import InvalidInputError
from nago.safe_yaml import MAX_DOCUMENT_BYTES, load_yaml_documents, read_text_file
from nago.search.spec import load_search

# 110 aliases, 10 to a level: 10^12 values once expanded
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(11)
)
# 50 aliases, 10 to a level: a million values once expanded, from a few hundred bytes
FAN_OUT = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(5)
)
GOOD_MANIFEST = """\
apiVersion: nago.dev/v1alpha1
kind: GeneratorSearch
metadata: {name: s}
spec:
  dataset: {kind: fashion-mnist, trainLimit: 300}
  budget: {maxTrials: 2, epochs: 1}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BILLION_LAUGHS, "more than 100 aliases"),
        (FAN_OUT, "more than 100000 values once aliases are expanded"),
        ("spec: {budget: {maxTrials: 3, maxTrials: 90000}}\n", "duplicate key 'maxTrials' on line 1"),
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' on line 3"),
        ("[" * 20_000 + "]" * 20_000, "nested deeper than 64 levels"),
        ("a: [1, 2\n", "is not valid YAML (line 2)"),
        ("a: {b: " + "[" * 70 + "]" * 70 + "}", "nested deeper than 64 levels"),
    ],
    ids=["billion-laughs", "alias-fan-out", "duplicate-key-nested", "duplicate-key", "deep-nesting", "syntax",
         "deep-but-parses"],
)  # fmt: skip
def test_refused_in_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        load_yaml_documents(text, "m.yaml", "manifest")
    assert raised.value.field == "manifest"
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_few_aliases_are_fine() -> None:
    documents = load_yaml_documents("base: &b {x: 1}\nuse: [*b, *b]\n", "m.yaml", "manifest")
    assert documents == [{"base": {"x": 1}, "use": [{"x": 1}, {"x": 1}]}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00binary\x00", "is not UTF-8 text"),
        (b"a: 1\n" * (MAX_DOCUMENT_BYTES // 5 + 1), "at most 1,000,000"),
    ],
    ids=["binary", "too-large"],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError, match=message):
        read_text_file(path, "manifest")
    with pytest.raises(InvalidInputError, match=message):
        load_search(path)


def test_a_good_manifest_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(GOOD_MANIFEST)
    assert load_search(path).spec.budget.max_trials == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["describe", "--arch", "{file}"],
        ["train", "--trial", "{file}"],
        ["sample", "--theta-file", "{file}", "--param-budget", "30000"],
        ["search", "{file}", "--state-dir", "{dir}"],
    ],
    ids=["arch", "trial", "theta-file", "manifest"],
)
def test_cli_refuses_binary_files_with_exit_2(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "input"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    args = [a.replace("{file}", str(path)).replace("{dir}", str(tmp_path / "state")) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not UTF-8 text" in err[0]


def test_cli_refuses_a_huge_integer_in_theta(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--theta", '{"top_nodes": ' + "9" * 5000 + "}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nago sample: error: --theta: not usable JSON")
