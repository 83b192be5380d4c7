"""Common student slips are named in the error, only where the numbers fit the slip;
`validate DIR` reports every bad file. Through the real console entry point."""
from __future__ import annotations

from tests.cli_proc import cold

NET = """input: {x}
target: {t}
layers:
  - weights: {w1}
    activation: sigmoid
  - weights: {w2}
loss: mse
lr: 0.5
"""


def _write(tmp_path, name, **parts):
    path = tmp_path / name
    path.write_text(NET.format(**parts))
    return path


def test_weights_written_in_by_out_look_transposed(tmp_path):
    spec = _write(tmp_path, "t.yaml", x="[1, 0.5, -1]", t="[1]",
                  w1="[[0.1, 0.2], [0.2, 0.1], [0.3, 0.0]]", w2="[[0.1, 0.2]]")
    run = cold(["validate", str(spec)])
    assert run.code == 2, run.describe()
    assert "t.yaml:4:" in run.stderr and "layers[0].weights" in run.stderr
    assert "look transposed" in run.stderr and "write them as 2×3" in run.stderr
    assert "Traceback" not in run.stderr


def test_second_layer_transposed(tmp_path):
    spec = _write(tmp_path, "t.yaml", x="[1, 0.5, -1]", t="[1]",
                  w1="[[0.1, 0.2, 0.1], [0.2, 0.1, 0.1]]", w2="[[0.1], [0.2]]")
    run = cold(["solve", str(spec)])
    assert run.code == 2 and "layers[1].weights" in run.stderr
    assert "write them as 1×2" in run.stderr


def test_a_mismatch_that_is_no_transpose_gets_no_such_hint(tmp_path):
    # 3 inputs, weights 4×2: transposed would be 2×4, which takes 4 inputs, not 3
    spec = _write(tmp_path, "t.yaml", x="[1, 0.5, -1]", t="[1]",
                  w1="[[0.1, 0.2], [0.2, 0.1], [0.3, 0.0], [0.1, 0.1]]", w2="[[0.1, 0.2, 0.3, 0.4]]")
    run = cold(["validate", str(spec)])
    assert run.code == 2 and "shape mismatch" in run.stderr
    assert "transposed" not in run.stderr and "batch of" not in run.stderr


def test_column_vector_input_read_as_a_batch(tmp_path):
    spec = _write(tmp_path, "c.yaml", x="[[1], [0.5], [-1]]", t="[[1], [0], [1]]",
                  w1="[[0.1, 0.2, 0.3], [0.2, 0.1, 0.0]]", w2="[[0.1, 0.2]]")
    run = cold(["validate", str(spec)])
    assert run.code == 2, run.describe()
    assert "is a batch of 3 samples of one value each" in run.stderr
    assert "written [1, 0.5, -1]" in run.stderr
    assert "transposed" not in run.stderr


def test_a_real_batch_of_one_value_samples_is_fine(tmp_path):
    spec = _write(tmp_path, "b.yaml", x="[[1], [0.5], [-1]]", t="[[1], [0], [1]]",
                  w1="[[0.1], [0.2]]", w2="[[0.1, 0.2]]")
    assert cold(["validate", str(spec)]).code == 0


def test_validate_dir_reports_every_bad_file(tmp_path):
    _write(tmp_path, "a_good.yaml", x="[1, 0.5, -1]", t="[1]",
           w1="[[0.1, 0.2, 0.1], [0.2, 0.1, 0.1]]", w2="[[0.1, 0.2]]")
    _write(tmp_path, "b_bad.yaml", x="[1, 0.5, -1]", t="[1]",
           w1="[[0.1, 0.2], [0.2, 0.1], [0.3, 0.0]]", w2="[[0.1, 0.2]]")
    (tmp_path / "c_bad.yaml").write_text("input: [1]\ntarget: [0]\nlayres: []\n")
    _write(tmp_path, "d_good.yaml", x="[1]", t="[1]", w1="[[0.1], [0.2]]", w2="[[0.1, 0.2]]")
    run = cold(["validate", str(tmp_path)])
    assert run.code == 2, run.describe()
    assert "b_bad.yaml:4:" in run.stderr and "c_bad.yaml:3:1" in run.stderr
    assert run.stderr.count("error: ") == 2 and "2 of 4 spec files are bad" in run.stderr
    assert "a_good.yaml" in run.stdout and "d_good.yaml" in run.stdout
    assert "Traceback" not in run.stderr
