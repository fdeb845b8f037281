"""What a researcher needs to publish with salessim: a licence and a citation file that
agree with the package's metadata."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_citation_file_has_what_cff_1_2_requires_and_the_package_s_version():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', pyproject, re.M)
    licence = re.search(r'^license = \{text = "([^"]+)"\}', pyproject, re.M)
    # CFF 1.2.0: cff-version, message, title and authors are required; an author is a
    # person (family-names) or an entity (name).
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"].strip() and cff["title"].strip()
    assert cff["authors"] and all("name" in a or "family-names" in a for a in cff["authors"])
    assert version and cff["version"] == version.group(1)
    assert licence and cff["license"] == licence.group(1) == "MIT"
    datetime.date.fromisoformat(cff["date-released"])


def test_the_licence_is_mit():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "salessim" in text
