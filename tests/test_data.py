"""Tests for mirrorlab.sims.data: tiny IDX / CIFAR files written to tmp_path, no network."""

import gzip
import pickle
import struct

import numpy as np
import pytest

from mirrorlab.sims.data import DataError, Dataset, load_dataset, read_idx

IDX_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}
MNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# Separately computed float64 results (BLAS products of other shapes or memory alignment) may
# differ in the last bits on another machine or thread count; 1e-12 relative is ~1e4 ulp,
# far below any real difference.
BLAS_RTOL = 1e-12



# --- writers ------------------------------------------------------------------


def idx_bytes(array, dtype):
    """IDX encoding of ``array`` stored as ``dtype`` (a key of IDX_CODES)."""
    array = np.asarray(array, dtype=np.dtype(dtype))
    header = bytes([0, 0, IDX_CODES[dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(file, array, dtype="u1", gz=False):
    data = idx_bytes(array, dtype)
    if gz:
        file = file.with_name(file.name + ".gz")
        file.write_bytes(gzip.compress(data))
    else:
        file.write_bytes(data)
    return file


def write_mnist(folder, n_train=6, n_test=4, gz=False, seed=0):
    """Four IDX files; returns (train_images, train_labels, test_images, test_labels)."""
    rng = np.random.default_rng(seed)
    arrays = (
        rng.integers(0, 256, (n_train, 3, 2), dtype=np.uint8),
        np.arange(n_train) % 10,
        rng.integers(0, 256, (n_test, 3, 2), dtype=np.uint8),
        (np.arange(n_test) + 3) % 10,
    )
    folder.mkdir(parents=True, exist_ok=True)
    for stem, array in zip(MNIST_STEMS, arrays):
        write_idx(folder / stem, array, gz=gz)
    return arrays


def write_cifar_batch(file, n, seed, override=None):
    rng = np.random.default_rng(seed)
    batch = {b"batch_label": b"x", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"labels": [int(v) for v in rng.integers(0, 10, n)]}
    batch.update(override or {})
    with open(file, "wb") as f:
        pickle.dump(batch, f)
    return batch


def write_cifar(folder, n=3):
    """Five train batches of ``n`` rows and a test batch of ``n`` rows; returns them in order."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return [write_cifar_batch(folder / name, n, seed) for seed, name in enumerate(names)]


# --- read_idx -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(IDX_CODES))
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, gz):
    values = np.array([[0, 1, -2 if dtype != "u1" else 2], [100, -7 if dtype != "u1" else 7, 127]])
    if dtype in (">f4", ">f8"):
        values = values + 0.25
    file = write_idx(tmp_path / "a-idx", values, dtype, gz)
    out = read_idx(file)
    assert out.shape == (2, 3)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, values)
    out[0, 0] = 5  # writeable, native order copy


def test_read_idx_big_endian_values(tmp_path):
    file = write_idx(tmp_path / "b-idx", [-30000, 258, 70000], ">i4")
    assert read_idx(file).tolist() == [-30000, 258, 70000]
    assert file.read_bytes()[8:12] == b"\xff\xff\x8a\xd0"  # really big-endian on disk


def test_read_idx_3d(tmp_path):
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "c", values)), values)


def test_read_idx_bad_magic(tmp_path):
    file = tmp_path / "bad-magic"
    file.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DataError, match="bad-magic.*magic"):
        read_idx(file)


def test_read_idx_unknown_type_code(tmp_path):
    file = tmp_path / "bad-code"
    file.write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DataError, match="bad-code.*0x07"):
        read_idx(file)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated_payload(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 4)), ">f4")[:-3]
    file = tmp_path / ("short.gz" if gz else "short")
    file.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError, match=r"short.*truncated.*61 bytes, expected 64"):
        read_idx(file)


def test_read_idx_trailing_bytes(tmp_path):
    file = tmp_path / "long"
    file.write_bytes(idx_bytes([1, 2], "u1") + b"\x00")
    with pytest.raises(DataError, match="long.*too long"):
        read_idx(file)


def test_read_idx_truncated_header(tmp_path):
    file = tmp_path / "head"
    file.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">I", 2))
    with pytest.raises(DataError, match="head.*header"):
        read_idx(file)


def test_read_idx_missing_and_corrupt_gzip(tmp_path):
    with pytest.raises(DataError, match="nothere"):
        read_idx(tmp_path / "nothere")
    file = tmp_path / "broken.gz"
    file.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="broken.gz"):
        read_idx(file)


# --- MNIST ---------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_shapes_scaling_one_hot(tmp_path, gz, name):
    x_tr, l_tr, x_te, l_te = write_mnist(tmp_path, gz=gz)
    ds = load_dataset(name, path=tmp_path)
    assert ds.name == name and ds.n_classes == 10 and ds.is_classification
    assert ds.x_train.shape == (6, 6) and ds.x_test.shape == (4, 6)
    assert ds.y_train.shape == (6, 10) and ds.y_test.shape == (4, 10)
    assert ds.n_in == 6 and ds.n_out == 10
    for a in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
        assert a.dtype == np.float64
    np.testing.assert_array_equal(ds.x_train, x_tr.reshape(6, 6) / 255.0)
    np.testing.assert_array_equal(ds.x_test, x_te.reshape(4, 6) / 255.0)
    np.testing.assert_array_equal(ds.y_train.argmax(1), l_tr)
    np.testing.assert_array_equal(ds.y_test.argmax(1), l_te)
    assert set(np.unique(ds.y_train)) == {0.0, 1.0} and (ds.y_train.sum(1) == 1).all()


def test_mnist_scaling_extremes(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / MNIST_STEMS[0], np.array([[[0, 255]] * 3] * 6, dtype=np.uint8))
    write_idx(tmp_path / MNIST_STEMS[1], np.zeros(6))
    ds = load_dataset("mnist", path=tmp_path)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0


def test_mnist_mixed_plain_and_gz(tmp_path):
    arrays = write_mnist(tmp_path)
    (tmp_path / MNIST_STEMS[2]).unlink()
    write_idx(tmp_path / MNIST_STEMS[2], arrays[2], gz=True)
    assert load_dataset("mnist", path=str(tmp_path)).x_test.shape == (4, 6)


def test_mnist_n_train_n_test_keep_first(tmp_path):
    x_tr, _, x_te, _ = write_mnist(tmp_path)
    ds = load_dataset("mnist", path=tmp_path, n_train=2, n_test=3)
    assert len(ds.x_train) == len(ds.y_train) == 2 and len(ds.x_test) == len(ds.y_test) == 3
    np.testing.assert_array_equal(ds.x_train, x_tr[:2].reshape(2, 6) / 255.0)
    with pytest.raises(ValueError, match="n_train=7"):
        load_dataset("mnist", path=tmp_path, n_train=7)


def test_mnist_missing_folder(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        load_dataset("mnist", path=tmp_path / "nowhere")
    with pytest.raises(DataError, match="path"):
        load_dataset("mnist")


def test_mnist_missing_file_lists_both_names(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte\.gz"):
        load_dataset("mnist", path=tmp_path)


def test_mnist_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5))
    with pytest.raises(DataError, match="train-images-idx3-ubyte has 6 images but train-labels-idx1-ubyte has 5"):
        load_dataset("mnist", path=tmp_path)


def test_mnist_train_test_image_sizes_differ(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((4, 2, 2)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.*\(2, 2\).*\(3, 2\)"):
        load_dataset("mnist", path=tmp_path)


def test_mnist_bad_magic_names_file(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x12\x34\x08\x03")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.*magic"):
        load_dataset("mnist", path=tmp_path)


def test_mnist_truncated_gz_file_names_file(tmp_path):
    write_mnist(tmp_path, gz=True)
    file = tmp_path / "train-images-idx3-ubyte.gz"
    file.write_bytes(gzip.compress(gzip.decompress(file.read_bytes())[:-1]))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*truncated"):
        load_dataset("mnist", path=tmp_path)


def test_mnist_wrong_image_rank_and_label_range(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((6, 6)))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*rows, cols"):
        load_dataset("mnist", path=tmp_path)
    write_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", [1, 2, 3, 10])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*0..9"):
        load_dataset("mnist", path=tmp_path)


# --- CIFAR-10 ------------------------------------------------------------------


@pytest.mark.parametrize("parent", [False, True])
def test_cifar10_shapes_scaling_one_hot(tmp_path, parent):
    folder = tmp_path / "cifar-10-batches-py"
    batches = write_cifar(folder)
    ds = load_dataset("cifar10", path=tmp_path if parent else folder)
    assert ds.x_train.shape == (15, 3072) and ds.y_train.shape == (15, 10)
    assert ds.x_test.shape == (3, 3072) and ds.y_test.shape == (3, 10)
    assert ds.n_classes == 10 and ds.x_train.dtype == np.float64
    np.testing.assert_array_equal(ds.x_train, np.concatenate([b[b"data"] for b in batches[:5]]) / 255.0)
    np.testing.assert_array_equal(ds.x_test, batches[5][b"data"] / 255.0)
    np.testing.assert_array_equal(ds.y_train.argmax(1), sum((b[b"labels"] for b in batches[:5]), []))
    np.testing.assert_array_equal(ds.y_test.argmax(1), batches[5][b"labels"])
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert (ds.y_train.sum(1) == 1).all()


def test_cifar10_n_train_n_test(tmp_path):
    write_cifar(tmp_path)
    ds = load_dataset("cifar10", path=tmp_path, n_train=4, n_test=1)
    assert ds.x_train.shape == (4, 3072) and ds.y_test.shape == (1, 10)


def test_cifar10_missing_batches_listed(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_2").unlink()
    (tmp_path / "test_batch").unlink()
    with pytest.raises(DataError, match="missing CIFAR-10 batches data_batch_2, test_batch"):
        load_dataset("cifar10", path=tmp_path)


def test_cifar10_missing_folder(tmp_path):
    with pytest.raises(DataError, match="absent"):
        load_dataset("cifar10", path=tmp_path / "absent")


def test_cifar10_missing_key(tmp_path):
    write_cifar(tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8)}, f)
    with pytest.raises(DataError, match=r"data_batch_3.*keys \(b'data', b'labels'\)"):
        load_dataset("cifar10", path=tmp_path)


def test_cifar10_bad_data_shape_and_labels(tmp_path):
    write_cifar(tmp_path)
    write_cifar_batch(tmp_path / "test_batch", 2, 0, {b"data": np.zeros((2, 100), np.uint8)})
    with pytest.raises(DataError, match=r"test_batch.*\(n, 3072\)"):
        load_dataset("cifar10", path=tmp_path)
    write_cifar_batch(tmp_path / "test_batch", 2, 0, {b"labels": [1]})
    with pytest.raises(DataError, match="test_batch.*labels"):
        load_dataset("cifar10", path=tmp_path)


def test_cifar10_not_a_pickle(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_5").write_bytes(b"garbage")
    with pytest.raises(DataError, match="data_batch_5"):
        load_dataset("cifar10", path=tmp_path)


# --- digits --------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_digits_shapes_and_range(digits):
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert digits.n_in == 64 and digits.n_out == 10 and digits.n_classes == 10
    assert len(digits.x_test) == 450  # ceil(0.25 * 1797)
    assert digits.x_train.dtype == np.float64
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    assert 0.0 <= digits.x_test.min() and digits.x_test.max() <= 1.0
    assert (digits.y_train.sum(1) == 1).all() and set(np.unique(digits.y_test)) == {0.0, 1.0}


def test_digits_stratified(digits):
    train_counts = digits.y_train.sum(0)
    test_counts = digits.y_test.sum(0)
    assert (test_counts > 0).all()
    np.testing.assert_allclose(test_counts / (train_counts + test_counts), 0.25, atol=0.02)


def test_iris_is_scaled_per_feature_and_split_by_class():
    iris = load_dataset("iris", seed=7)
    assert (len(iris.x_train), len(iris.x_test)) == (112, 38)   # ceil(0.25 * 150)
    assert iris.n_in == 4 and iris.n_classes == 3
    both = np.vstack([iris.x_train, iris.x_test])
    np.testing.assert_array_equal(both.min(axis=0), 0.0)
    np.testing.assert_array_equal(both.max(axis=0), 1.0)
    np.testing.assert_array_equal(iris.y_test.sum(0), [13, 13, 12])       # 50 per class
    np.testing.assert_array_equal(load_dataset("iris").x_test, iris.x_test)
    with pytest.raises(ValueError, match="data.test_fraction: 0.01 leaves 2 of the 150 iris"):
        load_dataset("iris", test_fraction=0.01)


def test_digits_split_independent_of_seed(digits):
    other = load_dataset("digits", seed=123)
    np.testing.assert_array_equal(digits.x_train, other.x_train)
    np.testing.assert_array_equal(digits.y_test, other.y_test)


def test_digits_n_train_n_test_and_fraction(digits):
    ds = load_dataset("digits", n_train=100, n_test=50)
    assert ds.x_train.shape == (100, 64) and ds.y_test.shape == (50, 10)
    np.testing.assert_array_equal(ds.x_train, digits.x_train[:100])
    assert len(load_dataset("digits", test_fraction=0.5).x_test) == 899


# --- teacher -------------------------------------------------------------------


def test_teacher_defaults():
    ds = load_dataset("teacher")
    assert ds.x_train.shape == (1000, 20) and ds.y_train.shape == (1000, 10)
    assert ds.x_test.shape == (200, 20) and ds.y_test.shape == (200, 10)
    assert ds.n_classes is None and not ds.is_classification
    assert ds.y_train.dtype == np.float64 and np.isfinite(ds.y_train).all()


def test_teacher_same_seed_identical():
    a = load_dataset("teacher", seed=3, teacher_noise=0.1)
    b = load_dataset("teacher", seed=3, teacher_noise=0.1)
    for name in ("x_train", "x_test"):                       # drawn: exactly the same
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in ("y_train", "y_test"):                       # computed through BLAS
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=BLAS_RTOL, atol=0)


def test_teacher_different_seeds_differ():
    a = load_dataset("teacher", seed=0, n_train=50, n_test=10)
    b = load_dataset("teacher", seed=1, n_train=50, n_test=10)
    assert not np.allclose(a.x_train, b.x_train)
    # different teachers, not just different inputs: map a's inputs through each
    wa = np.linalg.lstsq(a.x_train, a.y_train, rcond=None)[0]
    wb = np.linalg.lstsq(b.x_train, b.y_train, rcond=None)[0]
    assert np.abs(wa - wb).max() > 0.1


def test_teacher_linear_exact_least_squares():
    ds = load_dataset("teacher", seed=5, teacher_sizes=(8, 12, 4), teacher_transfer="linear", n_train=100, n_test=30)
    w = np.linalg.lstsq(ds.x_train, ds.y_train, rcond=None)[0]
    assert np.abs(ds.x_train @ w - ds.y_train).max() < 1e-10
    assert np.abs(ds.x_test @ w - ds.y_test).max() < 1e-10


def test_teacher_nonlinear_not_linear():
    ds = load_dataset("teacher", seed=5, teacher_sizes=(8, 12, 4), teacher_transfer="relu", n_train=100)
    w = np.linalg.lstsq(ds.x_train, ds.y_train, rcond=None)[0]
    assert np.abs(ds.x_train @ w - ds.y_train).max() > 1e-3


@pytest.mark.parametrize("transfer", ["linear", "tanh", "sigmoid", "relu"])
def test_teacher_sizes_and_counts(transfer):
    ds = load_dataset("teacher", n_train=17, n_test=5, teacher_sizes=[3, 4, 5, 2], teacher_transfer=transfer)
    assert ds.x_train.shape == (17, 3) and ds.y_train.shape == (17, 2)
    assert ds.x_test.shape == (5, 3) and ds.y_test.shape == (5, 2)


def test_teacher_noise():
    clean = load_dataset("teacher", seed=2, n_train=2000, n_test=10)
    noisy = load_dataset("teacher", seed=2, n_train=2000, n_test=10, teacher_noise=0.5)
    np.testing.assert_array_equal(clean.x_train, noisy.x_train)
    assert np.std(noisy.y_train - clean.y_train) == pytest.approx(0.5, rel=0.05)


def test_teacher_same_teacher_whatever_n_train():
    small = load_dataset("teacher", seed=4, n_train=10, n_test=3)
    big = load_dataset("teacher", seed=4, n_train=40, n_test=3)
    np.testing.assert_array_equal(small.x_train, big.x_train[:10])
    # the targets of 10 and of 40 samples are BLAS products of different shapes
    np.testing.assert_allclose(small.y_train, big.y_train[:10], rtol=BLAS_RTOL, atol=1e-15)


def test_teacher_bad_arguments():
    with pytest.raises(ValueError, match="linear, tanh, sigmoid, relu"):
        load_dataset("teacher", teacher_transfer="softplus")
    with pytest.raises(ValueError, match="teacher_sizes"):
        load_dataset("teacher", teacher_sizes=(5,))


# --- dispatch and Dataset ------------------------------------------------------


def test_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match="digits, iris, teacher, mnist, fashion-mnist, cifar10") as info:
        load_dataset("imagenet")
    assert not isinstance(info.value, DataError)
    assert "imagenet" in str(info.value)


def test_negative_counts_rejected():
    with pytest.raises(ValueError, match="n_train"):
        load_dataset("teacher", n_train=-1)


def test_dataset_is_frozen_and_checks_shapes():
    z = np.zeros((2, 3))
    ds = Dataset("x", z, np.zeros((2, 1)), z, np.zeros((2, 1)), None)
    with pytest.raises(AttributeError):
        ds.name = "y"
    with pytest.raises(ValueError, match="equal rows"):
        Dataset("x", z, np.zeros((3, 1)), z, np.zeros((2, 1)), None)
    with pytest.raises(ValueError, match="n_classes"):
        Dataset("x", z, np.zeros((2, 1)), z, np.zeros((2, 1)), 4)


def test_data_error_is_value_error():
    assert issubclass(DataError, ValueError)
