r"""Writes the README's flag table from the `TrainConfig` fields.

Usage:
  python scripts/make_flag_table.py          # rewrites README.md between the flags markers
  python scripts/make_flag_table.py --check  # exit status 1 if the README's table is stale

The table is `keras_cgan.config_flags.flag_table()`; tests/test_readme.py
fails when the README's copy differs from it.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
BEGIN, END = "<!-- flags:begin -->", "<!-- flags:end -->"
sys.path.insert(0, REPO)


def readme_table(text):
    """The text between the flags markers of `text` (stripped)."""
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def main():
    from keras_cgan import config_flags

    table = config_flags.flag_table()
    text = open(README, encoding="utf-8").read()
    if readme_table(text) == table:
        print("README.md: the flag table is up to date")
        return
    if "--check" in sys.argv[1:]:
        raise SystemExit(
            "README.md: the flag table is stale: run python scripts/make_flag_table.py"
        )
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(README, "w", encoding="utf-8") as f:
        f.write(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    print("README.md: wrote the flag table")


if __name__ == "__main__":
    main()
