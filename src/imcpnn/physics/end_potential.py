"""The potential after ``K`` intervals of constant coefficients, in closed form, with a hand-written backward.

``v_end = Σ_k g_k Δ_k φ(x_k) E_k`` with ``x_k = f_k Δ_k`` and ``E_k = Π_{l>k} exp(-x_l)`` (spec ``MODEL.md``
section 1, "One interval", unrolled). This is the hot path of every DSTD layer, so it is written for the
number of passes over the ``[B, K, ...]`` tensors, the cost on a CPU, where each element-wise operation
reads and writes the whole tensor:

- ``exp(-x)`` and ``φ(x)`` come from one ``expm1`` (:func:`_decay_and_phi`): ``φ(x) = -expm1(-x) / x``
  has no cancellation for any ``x`` (``expm1`` is exact to rounding near 0), so no series branch and no
  ``torch.where`` are needed; ``x`` is offset by ``2^-100``, so that ``x = 0`` gives exactly 1.
- The forward never forms ``E``: ``v`` is accumulated by Horner's rule over the grid axis,
  ``v <- v exp(-x_k) + c_k``, on ``[B, ...]`` slices (``K`` times smaller than the full tensor).
- The backward forms ``E`` as a suffix product of ``exp(-x)`` (no flip, no ``cat``), works in place
  on a few buffers, and writes the gradients of ``g`` and ``f`` straight into the halves of one
  buffer when the coefficients come stacked from one product (:func:`stacked_end_potential`), so
  autograd does not concatenate them again.

Both functions are first-order differentiable (``once_differentiable``); the tests check them
against ``gradcheck`` and autograd through the plain formula.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from .neuron import phi_derivative

# Added to every x = f Δ, so that x = 0 needs no branch. Not float32's smallest normal number: products of that
# with the series' coefficients are subnormal, and subnormal arithmetic is about 100 times slower on x86 CPUs.
_ZERO_OFFSET = 2.0**-100


def _scaled_exponent(f: torch.Tensor, width: torch.Tensor, leak: float, out: torch.Tensor | None) -> torch.Tensor:
    """``x = (f + α) Δ`` into ``out`` (a new buffer for ``None``), plus ``2^-100``: that changes no ``x`` above
    ``1e-23``, and turns ``x = 0`` into a power of two where ``φ = -expm1(-x) / x`` is exactly 1
    (:func:`_decay_and_phi`). One in-place pass, no mask."""
    x = torch.mul(f, width, out=out) if out is not None else f * width
    if leak:
        x.add_(width * leak)
    return x.add_(max(_ZERO_OFFSET, torch.finfo(x.dtype).tiny))


def _decay_and_phi(
    x: torch.Tensor, *, keep_x: bool, out: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(-x)`` (into ``out``, else a new buffer) and ``φ(x) = (1 - exp(-x)) / x`` (in ``x``'s buffer unless
    ``keep_x``) of a nonzero ``x`` (:func:`_scaled_exponent`), from one ``expm1``: no cancellation for any
    ``x``, so no series branch and no ``torch.where``. The values of :func:`imcpnn.physics.neuron.phi`, whose
    series branch is there for autograd (this path differentiates by hand)."""
    decay = torch.neg(x, out=out) if out is not None else torch.neg(x)
    decay.expm1_()  # exp(-x) - 1
    phi_x = (torch.reciprocal(x) if keep_x else x.reciprocal_()).mul_(decay).neg_()
    return decay.add_(1.0), phi_x


def _suffix_decay_(decay: torch.Tensor) -> torch.Tensor:
    """``decay = exp(-x)`` turned, in place, into ``E_k = Π_{l>k} exp(-x_l)`` along dim 1 (``E_{K-1} = 1``)."""
    running = torch.ones_like(decay.select(1, 0))
    for k in range(decay.shape[1] - 1, -1, -1):
        slot = decay.select(1, k)
        current = slot.clone()
        slot.copy_(running)
        running.mul_(current)
    return decay


def _accumulate(charge: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    """``Σ_k c_k Π_{l>k} d_l`` along dim 1 by Horner's rule: ``v <- v d_k + c_k``."""
    potential = charge.select(1, 0).clone()
    for k in range(1, charge.shape[1]):
        potential.mul_(decay.select(1, k)).add_(charge.select(1, k))
    return potential


def end_potential_forward(f: torch.Tensor, g: torch.Tensor, width: torch.Tensor, leak: float) -> torch.Tensor:
    """``v_end`` with two ``[B, K, ...]`` buffers."""
    x = _scaled_exponent(f, width, leak, None)
    decay, phi_x = _decay_and_phi(x, keep_x=False)  # φ takes x's buffer
    return _accumulate(phi_x.mul_(g).mul_(width), decay)


def end_potential_backward(
    f: torch.Tensor, g: torch.Tensor, width: torch.Tensor, leak: float, grad_output: torch.Tensor,
    grad_g: torch.Tensor | None, grad_f: torch.Tensor | None, want_width: bool,
) -> torch.Tensor | None:  # fmt: skip
    """Writes ``∂L/∂g`` into ``grad_g`` and ``∂L/∂f`` into ``grad_f`` (either may be ``None``); returns
    ``∂L/∂Δ`` at the full shape when ``want_width``.

    With ``c_k = g_k Δ_k φ_k``, ``P_k = Σ_{j<k} c_j E_j``: ``∂v/∂g_k = Δ_k φ_k E_k``,
    ``∂v/∂x_k = g_k Δ_k φ'_k E_k - P_k``, ``∂v/∂f_k = Δ_k ∂v/∂x_k``, ``∂v/∂Δ_k = g_k φ_k E_k + f_k ∂v/∂x_k``
    (``f`` with the leak). The output buffers double as work space: besides them, two ``[B, K, ...]``
    buffers (``φ``, then ``φ'``'s series or ``g Δ``) and a mask are live at the peak.
    """
    grad_v = grad_output.unsqueeze(1)
    need_x = grad_f is not None or want_width
    x = _scaled_exponent(f, width, leak, grad_f)  # buffer 1: x, then φ', ∂v/∂x, at last ∂L/∂f
    # buffer 2: exp(-x), then E_k, P_k, at last ∂L/∂g; buffer 3: φ, then φ_k E_k
    decay, phi_x = _decay_and_phi(x, keep_x=need_x, out=grad_g)
    suffix = _suffix_decay_(decay)
    grad_x = phi_derivative(x, phi_x, overwrite=True) if need_x else None  # buffer 4 (the series) only inside
    phi_decay = phi_x.mul_(suffix)  # φ_k E_k
    grad_width = None
    if grad_x is not None:
        charge = g * width  # buffer 4: g_k Δ_k, then c_k E_k
        grad_x.mul_(suffix).mul_(charge)  # g Δ φ' E
        prefix = torch.cumsum(charge.mul_(phi_decay), dim=1, out=suffix)  # Σ_{j<=k} c_j E_j
        del charge
        steps = grad_x.shape[1]
        grad_x.narrow(1, 1, steps - 1).sub_(prefix.narrow(1, 0, steps - 1))  # ∂v/∂x = g Δ φ' E - P_k
        del prefix
        if want_width:
            f_total = torch.add(f, leak) if leak else f
            grad_width = (f_total * grad_x).add_(g * phi_decay).mul_(grad_v)
        if grad_f is not None:  # grad_x is grad_f's buffer
            grad_x.mul_(width).mul_(grad_v)
    del suffix
    if grad_g is not None:
        torch.mul(phi_decay, width, out=grad_g).mul_(grad_v)
    return grad_width


def _sum_to_shape(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    if grad.shape == shape:
        return grad
    lead = grad.dim() - len(shape)
    grad = grad.sum(dim=tuple(range(lead))) if lead > 0 else grad
    dims = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    return grad.sum(dim=dims, keepdim=True) if dims else grad


class _EndPotential(torch.autograd.Function):
    """:func:`end_potential`: saves only ``f, g, width``; the backward recomputes what it needs."""

    @staticmethod
    def forward(ctx, f: torch.Tensor, g: torch.Tensor, width: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(f, g, width)
        return end_potential_forward(f, g, width, 0.0)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        f, g, width = ctx.saved_tensors
        need_f, need_g, need_width = ctx.needs_input_grad
        shape = torch.broadcast_shapes(f.shape, g.shape, width.shape)
        grad_f = f.new_empty(shape) if need_f else None
        grad_g = g.new_empty(shape) if need_g else None
        grad_width = end_potential_backward(f, g, width, 0.0, grad_output, grad_g, grad_f, need_width)
        return (
            _sum_to_shape(grad_f, f.shape) if grad_f is not None else None,
            _sum_to_shape(grad_g, g.shape) if grad_g is not None else None,
            _sum_to_shape(grad_width, width.shape) if grad_width is not None else None,
        )


class _StackedEndPotential(torch.autograd.Function):
    """:func:`stacked_end_potential`: saves the products; their gradient is one buffer, no ``cat``."""

    @staticmethod
    def forward(ctx, products: torch.Tensor, width: torch.Tensor, leak: float, dim: int) -> torch.Tensor:  # type: ignore[override]
        g, f = products.chunk(2, dim=dim)
        ctx.save_for_backward(products, width)
        ctx.leak, ctx.dim = leak, dim
        return end_potential_forward(f, g, width, leak)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        products, width = ctx.saved_tensors
        g, f = products.chunk(2, dim=ctx.dim)
        grads = torch.empty_like(products)
        grad_g, grad_f = grads.chunk(2, dim=ctx.dim)
        end_potential_backward(f, g, width, ctx.leak, grad_output, grad_g, grad_f, want_width=False)
        return grads, None, None, None


def end_potential(f: torch.Tensor, g: torch.Tensor, width: torch.Tensor | float) -> torch.Tensor:
    """Potential after the last of ``K`` intervals, starting from ``v = 0``.

    The one-interval step (spec section 1) unrolled in closed form:
    ``v_end = Σ_k g_k Δ_k φ(f_k Δ_k) exp(-Σ_{l>k} f_l Δ_l)``, evaluated as a product of decays
    (never ``exp(+Σ f Δ)``, so nothing overflows) with no Python loop over the batch. ``f >= 0, g``:
    ``[B, K, ...]``; ``width`` broadcastable to them (differentiable: the exact solver's widths depend
    on the spike times). Returns ``[B, ...]``. Autograd keeps only ``f``, ``g`` and ``width``.
    """
    width = torch.as_tensor(width, dtype=f.dtype, device=f.device)
    return _EndPotential.apply(f, g, width)


def stacked_end_potential(products: torch.Tensor, width: torch.Tensor, leak: float, dim: int) -> torch.Tensor:
    """:func:`end_potential` of DSTD's one product on the stacked weights ``[w; βw]`` (spec section 4).

    ``products``: ``[B, K, 2 N, ...]`` with ``g̃ = w S`` in the first half of ``dim`` and ``βw S`` in the
    second, so ``f = leak + βw S``; ``width``: the grid's ``[1, K, 1, ...]`` (constant: no gradient).
    Returns ``[B, N, ...]``. The backward writes the gradient of both halves into one buffer.
    """
    return _StackedEndPotential.apply(products, width, float(leak), dim)
