"""The benchmark behind `python -m keras_cgan.bench`, as a library.

`runner.run(Options(...), load_preset)` measures the selected sections
(`fit`, `bare`, `sweep`, `pipeline`, `generate`, `memory`) for each preset and
returns every figure; `report.report` prints them as tables and
`targets.check_targets` judges the speed targets. No TensorFlow is imported
until a section runs.
"""
