#!/usr/bin/env bash
# The installed package away from its checkout: builds the wheel, checks that it
# carries every preset of flags/, installs it into a fresh virtualenv and runs
# the tools from a folder outside the repository (CI runs this after the tests).
# Needs KERAS_CGAN_MNIST_DIR (the tools read it) or network access for tfds.
# CHECK_WHEEL_CLASSIFIER_DIR: a reference-classifier cache to evaluate with
# (default: a new one, trained here).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python -m pip wheel -q --no-deps -w "$work/dist" "$repo"
wheel="$(ls "$work"/dist/keras_cgan-*.whl)"
listing="$(python -m zipfile -l "$wheel")"
for preset in "$repo"/flags/*.cfg; do
  name="keras_cgan/flags/$(basename "$preset")"
  if ! grep -q "$name" <<<"$listing"; then
    echo "check_wheel: $wheel lacks the preset $name" >&2
    exit 1
  fi
done

python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "$wheel"
export PATH="$work/venv/bin:$PATH"
cd "$work"  # Outside the checkout: only the installed package is there.

keras-cgan-train --version
listed="$(keras-cgan-train --list_presets)"
echo "$listed"
for preset in "$repo"/flags/*.cfg; do
  if ! grep -q "^$(basename "$preset" .cfg) " <<<"$listed"; then
    echo "check_wheel: --list_presets lacks $(basename "$preset" .cfg)" >&2
    exit 1
  fi
done
if keras-cgan-train --preset=no_such_preset 2>err.txt; then
  echo "check_wheel: an unknown preset was accepted" >&2
  exit 1
fi
grep -q "unknown preset 'no_such_preset': choose one of" err.txt
keras-cgan-train --preset=smoke --workdir=run
python -m keras_cgan.main --preset=smoke --epochs=3 --workdir=run  # Resumes: one more epoch.
keras-cgan-export --model=run --out=export2
keras-cgan-generate --model=run --digits=0123456789 --per_digit=4 --out=grid.png
keras-cgan-generate --model=export2 --npz=samples.npz
keras-cgan-evaluate --model=run --num_samples=100 --json=eval.json \
  --classifier_dir="${CHECK_WHEEL_CLASSIFIER_DIR:-classifier}"
test -s grid.png && test -s samples.npz && test -s eval.json
echo "check_wheel: the wheel installs and its tools run outside the checkout"
