"""Code, tests and docs cite only what a reader of the repository has: docs/design.md (by a section that exists)
or the paper's appendix; never a document outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Names of documents that are not in the repository (spelled in pieces so this file does not match itself).
OUTSIDE = (
    "DESIGN" + " §", "DESIGN" + ".md", "nago" + "-spec", "bo" + "-notes", "k8s-operator" + "-notes",
    "control-plane" + "-notes", "containers" + "-notes", "seed-nago" + "-appendix", "../" + "shared",
)  # fmt: skip
CITATION = re.compile(r"docs/design\.md\s+§\s*(\d+(?:\.\d+)?)")
BINARY = {".png", ".pt", ".gz", ".jsonl"}


def _tracked_text_files() -> dict[str, str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()  # fmt: skip
    texts = {}
    for name in listed:
        path = ROOT / name
        if path.suffix in BINARY or not path.is_file():
            continue
        try:
            texts[name] = path.read_text()
        except UnicodeDecodeError:
            continue
    return texts


def _sections(design: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", design, re.MULTILINE)}


def test_nothing_cites_a_document_outside_the_repository() -> None:
    texts = _tracked_text_files()
    assert len(texts) > 100
    offenders = [f"{name}: {needle}" for name, text in texts.items() for needle in OUTSIDE if needle in text]
    assert not offenders


def test_every_cited_section_of_the_design_exists() -> None:
    texts = _tracked_text_files()
    sections = _sections(texts["docs/design.md"])
    assert {"2.4", "3.5", "7.7"} <= sections
    cited = {(name, m.group(1)) for name, text in texts.items() for m in CITATION.finditer(text)}
    assert len(cited) > 30
    assert not sorted((name, section) for name, section in cited if section not in sections)


def test_the_section_reader_sees_a_missing_section() -> None:
    design = "## 1. Purpose\n\n### 1.1 The method\n\n## 2. Architecture\n"
    assert _sections(design) == {"1", "1.1", "2"}
    text = "see docs/design" + ".md §9.9 and docs/design" + ".md §1.1"  # in pieces: not a citation of this file
    assert CITATION.findall(text) == ["9.9", "1.1"]
