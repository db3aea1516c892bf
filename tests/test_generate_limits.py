"""Large sample requests: npz streamed in parts, oversized grids and calls refused up front."""

import errno
import os
from collections import namedtuple

import numpy as np
import pytest

from helpers import make_tiny_gan, one_error_line, run_cli
from keras_cgan import callbacks, generate, sampling, sizes
from keras_cgan.errors import WriteError


class StubGenerator:
    """`ExportedGenerator`'s interface without TensorFlow; records the largest call."""

    latent_dim, num_classes = 4, 10

    def __init__(self):
        self.largest = 0

    def generate(self, labels, noise=None, seed=None):
        labels = np.asarray(labels)
        if noise is None:
            noise = np.random.default_rng(seed).standard_normal(
                (len(labels), self.latent_dim), dtype=np.float32
            )
        self.largest = max(self.largest, len(labels))
        # Each image depends on its own noise and label only.
        value = 1 / (1 + np.exp(-(noise.sum(axis=1) + labels)))
        return np.broadcast_to(value[:, None, None, None], (len(labels), 28, 28, 1)).astype(
            np.float32
        )


def test_a_streamed_npz_equals_the_in_memory_samples(tmp_path):
    stub = StubGenerator()
    digits, per_digit = [3, 7, 2], 9
    expected, expected_labels = sampling.grid_samples(stub, digits, per_digit, seed=5)
    stub.largest = 0
    path = str(tmp_path / "s.npz")
    parts = (images for images, _ in sampling.grid_chunks(stub, digits, per_digit, 5, chunk=4))
    labels = sampling.grid_labels(digits, per_digit, chunk=4)
    generate.write_npz(path, len(digits) * per_digit, parts, labels)
    assert stub.largest == 4  # Never more than one part at a time.
    with np.load(path) as f:
        assert sorted(f.files) == ["images", "labels"]
        assert f["images"].dtype == np.float32 and f["labels"].dtype == np.int64
        np.testing.assert_array_equal(f["images"], expected[..., 0])
        np.testing.assert_array_equal(f["labels"], expected_labels)


def test_a_failed_npz_keeps_the_previous_file(tmp_path):
    path = tmp_path / "s.npz"
    path.write_bytes(b"previous")

    def parts():
        yield np.zeros((2, 28, 28), np.float32)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError, match=r"cannot write .*s\.npz: the disk is full"):
        generate.write_npz(str(path), 4, parts(), [np.zeros(4)])
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["s.npz"]

    def interrupted():
        yield np.zeros((2, 28, 28), np.float32)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate.write_npz(str(path), 4, interrupted(), [np.zeros(4)])
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["s.npz"]


@pytest.mark.parametrize("rows, cols, labelled", [(3, 4, True), (5, 10, False), (1, 1, True)])
def test_grid_size_is_the_size_compose_grid_makes(rows, cols, labelled):
    images = np.zeros((rows * cols, 28, 28), np.float32)
    grid = callbacks.compose_grid(images, rows, range(rows) if labelled else None)
    assert generate.grid_size(rows, cols, labelled) == (grid.shape[1], grid.shape[0])


def test_an_oversized_grid_is_refused_with_its_size():
    generate.check_grid(10, 1000, True, (28, 28, 1), "--per_digit")  # 36 megapixels: fine.
    with pytest.raises(generate.GenerateError) as caught:
        generate.check_grid(10, 10_000_000, True, (28, 28, 1), "--per_digit", npz=True)
    message = str(caught.value)
    assert "a grid of 10 x 10,000,000 digits would be a 600,000,060 x 604-pixel PNG" in message
    assert "GiB of memory" in message and "--npz alone" in message


def test_an_npz_the_disk_has_no_room_for_is_refused(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(generate.shutil, "disk_usage", lambda path: usage(10**9, 0, 10**6))
    generate.check_npz_space(str(tmp_path / "s.npz"), 300, (28, 28, 1))  # 0.9 MiB: fits.
    with pytest.raises(generate.GenerateError, match=r"1,000 images need 3\.0 MiB on disk"):
        generate.check_npz_space(str(tmp_path / "s.npz"), 1000, (28, 28, 1))


def test_the_default_limit_states_the_memory_a_request_needs():
    sizes.check_generate(1_000_000, (28, 28, 1), 100, 10)  # 3.3 GiB: allowed.
    with pytest.raises(sizes.TooLarge) as caught:
        # 100 million x 4 bytes x (784 pixels + 100 noise + 10 one-hot) = 333.0 GiB.
        sizes.check_generate(100_000_000, (28, 28, 1), 100, 10)
    message = str(caught.value)
    assert "generating 100,000,000 images at once needs 333.0 GiB of memory" in message
    assert "above the 4.0 GiB limit" in message and "at most 1,201,053 per call" in message
    assert "\n" not in message


def test_generate_refuses_a_request_above_the_limit_before_drawing_anything(monkeypatch):
    gan = make_tiny_gan()
    monkeypatch.setattr(
        sizes, "MAX_GENERATE_BYTES", 50 * sizes.generate_bytes(1, (28, 28, 1), 8, 10)
    )
    assert gan.generate(np.arange(50) % 10, seed=0).shape == (50, 28, 28, 1)
    with pytest.raises(sizes.TooLarge, match="generating 51 images at once"):
        gan.generate(np.arange(51) % 10, seed=0)


def test_the_exported_generator_refuses_too(tmp_path, monkeypatch):
    from keras_cgan import export

    generator = export.ExportedGenerator(
        export.export_generator(make_tiny_gan(), str(tmp_path / "export"))
    )
    monkeypatch.setattr(
        sizes, "MAX_GENERATE_BYTES", 100 * sizes.generate_bytes(1, (28, 28, 1), 8, 10)
    )
    assert generator.generate(np.arange(100) % 10, seed=0).shape == (100, 28, 28, 1)
    with pytest.raises(sizes.TooLarge, match="ask for at most 100 per call"):
        generator.generate(np.arange(101) % 10, seed=0)
    with pytest.raises(sizes.TooLarge, match="generating 101 images"):
        generator.generate_soft(np.ones((101, 10)) / 10, np.zeros((101, 8)))


def test_the_command_line_refuses_a_huge_request_before_loading_the_model(
    tmp_path, no_tensorflow_env
):
    from helpers import save_tiny_export

    model = save_tiny_export(tmp_path / "export", np.zeros((18, 784)), np.zeros(784), 8)
    out, npz = tmp_path / "x.png", tmp_path / "x.npz"
    result = run_cli(
        "generate",
        f"--model={model}",
        "--per_digit=10000000",
        f"--out={out}",
        env_extra=no_tensorflow_env,  # Refused before TensorFlow loads.
    )
    assert result.returncode == 2
    assert "a grid of 10 x 10,000,000 digits" in one_error_line(result)
    result = run_cli(
        "generate",
        f"--model={model}",
        f"--per_digit={10**15}",
        f"--npz={npz}",
        env_extra=no_tensorflow_env,
    )
    assert result.returncode == 2
    assert "images need" in one_error_line(result) and "on disk but only" in result.stderr
    assert not out.exists() and not npz.exists()
