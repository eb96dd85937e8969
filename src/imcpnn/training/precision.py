"""Numerical precision of the training step: ``fp32``, ``tf32`` or ``bf16`` (``imcpnn train --precision``).

- ``fp32`` (default): plain float32 everywhere. On CUDA this also turns cuDNN's TF32 convolutions off
  for the run (PyTorch allows them by default), so ``fp32`` means float32 on every device.
- ``tf32``: float32 tensors, but CUDA matrix products and convolutions use TensorFloat-32 (10-bit
  mantissa, float32 range): ``torch.backends.cuda.matmul.allow_tf32`` and
  ``torch.backends.cudnn.allow_tf32`` are set for the run and restored afterwards. CUDA only: a CPU
  has no TF32, so asking for it there is refused rather than silently ignored.
- ``bf16``: the forward pass and the loss run under ``torch.autocast(device_type, torch.bfloat16)``.
  Autocast lowers the DSTD products (the dense ``matmul`` and the ``conv2d`` on ``[w; βw]``) to
  bfloat16; their results are cast back to the spike times' dtype at once
  (:func:`imcpnn.physics.dstd.dense_coefficients`, :func:`~imcpnn.physics.dstd.conv_coefficients`),
  so the closed-form integration (``exp``, cumulative sums, ``log1p`` of near-1 ratios) and the spike
  times between layers stay float32. Weights, gradients, the optimiser and evaluation stay float32
  too (evaluation runs without autocast: the accuracies report the trained float32 weights).

The trainer applies them (:func:`imcpnn.training.train`): the TF32 settings for the whole run, its
evaluations included, and autocast around each step's forward pass and loss
(:func:`~imcpnn.training.trainer.train_one_epoch`). A run's record holds its ``precision``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision_name(precision: object) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`; otherwise a :class:`ValueError` that lists them."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return str(precision)


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision that ``device`` cannot run, with a message that says what to use instead."""
    check_precision_name(precision)
    if precision == "tf32" and device.type != "cuda":
        raise ValueError(
            f"precision tf32 sets CUDA's TensorFloat-32 matrix products and has no effect on {device.type}: "
            "use --precision fp32 (the same arithmetic there) or bf16, or --device cuda"
        )
    if precision == "bf16":
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"precision bf16 (autocast) runs on cpu or cuda, not on {device.type}")
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            name = torch.cuda.get_device_name(device)
            raise ValueError(f"precision bf16: {name} has no bfloat16 support; use --precision fp32 or tf32")


@contextlib.contextmanager
def matmul_precision(precision: str, device: torch.device) -> Iterator[None]:
    """For the duration of a run on CUDA: TF32 matrix products and convolutions on for ``tf32``, off
    otherwise; the previous global settings are restored on exit. Changes nothing on other devices."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    allow = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def step_autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context of one step's forward pass and loss: bf16 autocast for ``bf16``, nothing otherwise
    (the backward pass runs outside it, as autocast asks)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
