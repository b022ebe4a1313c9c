"""The two images' Dockerfiles share their steps up to the torch install word for word, so a builder with a layer
cache stores the 6 GB torch layer once for both (docs/trainer.md, "Images"); and each installs the package from
sources it copies, so a cache never reuses a stale install."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = (ROOT / "Dockerfile", ROOT / "trainer_image" / "Dockerfile")


def read_instructions(path: Path) -> list[str]:
    """The Dockerfile's instructions, comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def read_shared_prefix(path: Path) -> list[str]:
    """Instructions up to and including the torch install, with the TORCH_INDEX default (which may differ: the
    operator's is PyTorch's CPU index) left out."""
    instructions = read_instructions(path)
    end = next(i for i, line in enumerate(instructions) if line.startswith("RUN") and "torch" in line)
    return [line for line in instructions[: end + 1] if not line.startswith("ARG TORCH_INDEX=")]


def test_the_images_share_every_step_up_to_the_torch_install() -> None:
    operator, trainer = (read_shared_prefix(path) for path in DOCKERFILES)
    assert operator == trainer
    assert sum(line.startswith("FROM") for line in operator) == 1


def test_each_image_is_one_stage_and_installs_the_package_from_copied_sources() -> None:
    """COPY, not a bind mount: buildah keys a RUN with a bind mount by its text alone, so a changed package
    was installed from a stale cached layer."""
    for path in DOCKERFILES:
        instructions = read_instructions(path)
        assert sum(line.startswith("FROM") for line in instructions) == 1, path
        assert not [line for line in instructions if "--mount" in line], path
        copies = [line.split()[1] for line in instructions if line.startswith("COPY")]
        assert copies == ["pyproject.toml", "nago", "operator"], path
