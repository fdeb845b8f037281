"""Regenerate the answer keys of the casebook: ``python cases/make_answers.py [CASE ...]``.

Each case folder gets ``answers.md``: the flow analysis of its scenarios, the analytic
figures beside the simulated ones and the before/after comparison with its verdicts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from salessim.output import write_text
from salessim.teaching.casebook import answer_key

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    folders = [HERE / n for n in names] if names else sorted(
        p for p in HERE.iterdir() if (p / "case.yaml").is_file())
    for folder in folders:
        write_text(folder / "answers.md", answer_key(folder))
        print(f"wrote {folder / 'answers.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
