"""Data sets, spike encoding, augmentation and batch loaders (MODEL.md sections 5 and 6).

Nothing is downloaded at run time: Iris and digits come bundled with scikit-learn, Fashion-MNIST
and CIFAR-10 are read from local files in their original formats, validated, and turned into
float32 features in ``[0, 1]`` with int64 labels. See ``docs/data.md``.

Typical use::

    splits = load_dataset("digits", seed=1)
    loader = make_loader(splits.train, batch_size=32, shuffle=True, seed=1)
    for x, y in loader:
        t_in = encode_inputs(splits.name, x, flatten=True)  # spike times, [B, 64]
"""

from .augment import augment_batch, random_crop, random_horizontal_flip, random_rotation
from .cifar10 import (
    CIFAR10_CLASSES,
    find_cifar10_files,
    read_cifar10,
    read_cifar10_bin_batch,
    read_cifar10_py_batch,
)
from .datasets import (
    DATASET_NAMES,
    DEFAULT_VAL_FRACTION,
    DataSplits,
    canonical_dataset_name,
    dataset_key,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_iris,
    split_indices,
)
from .encoding import (
    encode_images,
    encode_inputs,
    encode_splits,
    encode_tabular,
    encoded_input_shape,
    encoded_input_size,
)
from .fashion_mnist import (
    DEFAULT_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    find_fashion_mnist_files,
    read_fashion_mnist,
    read_idx,
)
from .load import load_dataset
from .loader import EpochSampler, loader_sampler, make_loader, set_loader_epoch
from .user import load_arrays, load_data_file

__all__ = [
    "CIFAR10_CLASSES",
    "DATASET_NAMES",
    "DEFAULT_FASHION_MNIST_DIR",
    "DEFAULT_VAL_FRACTION",
    "FASHION_MNIST_CLASSES",
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "DataSplits",
    "EpochSampler",
    "augment_batch",
    "canonical_dataset_name",
    "dataset_key",
    "encode_images",
    "encode_inputs",
    "encode_splits",
    "encode_tabular",
    "encoded_input_shape",
    "encoded_input_size",
    "find_cifar10_files",
    "find_fashion_mnist_files",
    "load_arrays",
    "load_cifar10",
    "load_data_file",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_iris",
    "loader_sampler",
    "make_loader",
    "random_crop",
    "random_horizontal_flip",
    "random_rotation",
    "read_cifar10",
    "read_cifar10_bin_batch",
    "read_cifar10_py_batch",
    "read_fashion_mnist",
    "read_idx",
    "set_loader_epoch",
    "split_indices",
]
