"""Networks of spiking layers, built from a short architecture string (spec ``MODEL.md`` section 5).

Grammar: ``INPUT:LAYER-LAYER-...`` or ``N_IN-LAYER-...``, where ``INPUT`` is ``CxHxW`` (images)
or an integer (vectors), and each ``LAYER`` is ``C<channels>`` (3x3 convolution), ``P`` (2x2
min-pooling), or ``<units>`` / ``FC<units>`` (fully connected; the input is flattened first).
Examples: ``"784-400-400-10"``, ``"3x32x32:C64-C64-P-C128-C128-P-C256-C256-P-512-10"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import torch
from torch import nn

from ..families import TTFS_T_REF, init_ttfs_weights
from .config import NeuronConfig
from .neurons import MinPool2d, SpikingConv2d, SpikingLayer, SpikingLinear

_CONV = re.compile(r"^C(\d+)$", re.IGNORECASE)
_DENSE = re.compile(r"^(?:FC)?(\d+)$", re.IGNORECASE)
_IMAGE = re.compile(r"^(\d+)x(\d+)x(\d+)$", re.IGNORECASE)


def _arch_error(arch: str, detail: str) -> ValueError:
    return ValueError(
        f"bad architecture string {arch!r}: {detail}. Expected e.g. '784-400-400-10' or "
        "'3x32x32:C64-C64-P-128-10' (C<n>: 3x3 conv, P: 2x2 pooling, <n> or FC<n>: dense)"
    )


def parse_arch(arch: str) -> tuple[tuple[int, ...], list[tuple[str, int]]]:
    """``(input_shape, [(kind, size), ...])`` with kind ``"conv"``, ``"pool"`` or ``"dense"``."""
    if not isinstance(arch, str) or not arch.strip():
        raise _arch_error(str(arch), "it is empty")
    text = arch.strip()
    if any(c.isspace() for c in text):
        raise _arch_error(arch, "it contains spaces; separate layers with '-' only")
    if ":" in text:
        head, _, body = text.partition(":")
        tokens = body.split("-")
    else:
        head, *tokens = text.split("-")
    image = _IMAGE.match(head)
    if image:
        input_shape: tuple[int, ...] = tuple(int(v) for v in image.groups())
    elif head.isdigit():
        input_shape = (int(head),)
    else:
        raise _arch_error(arch, f"the input size {head!r} is neither N nor CxHxW")
    if min(input_shape) < 1:
        raise _arch_error(arch, f"the input size {head!r} has a zero dimension")
    if not tokens or tokens == [""]:
        raise _arch_error(arch, "it has no layers")
    layers: list[tuple[str, int]] = []
    for token in tokens:
        if token.upper() == "P":
            layers.append(("pool", 2))
        elif _CONV.match(token):
            layers.append(("conv", int(_CONV.match(token).group(1))))  # type: ignore[union-attr]
        elif _DENSE.match(token):
            layers.append(("dense", int(_DENSE.match(token).group(1))))  # type: ignore[union-attr]
        else:
            raise _arch_error(arch, f"unknown layer {token!r}")
        if layers[-1][1] < 1:
            raise _arch_error(arch, f"layer {token!r} has no units")
    if layers[-1][0] != "dense" and len(input_shape) == 3 and layers[-1][0] != "conv":
        raise _arch_error(arch, "the last layer must be a neuron layer, not pooling")
    return input_shape, layers


class SpikingNetwork(nn.Sequential):
    """A feed-forward stack of spiking layers; input and output are spike times.

    ``input_shape`` is the shape of one sample (``(N,)`` or ``(C, H, W)``); all neuron layers share
    one :class:`NeuronConfig`, which :meth:`set_config` changes in place (e.g. to evaluate a model
    at another ``E±`` or with another number of DSTD steps).
    """

    def __init__(self, arch: str, config: NeuronConfig | None = None) -> None:
        self.arch = arch
        self.config = config or NeuronConfig()
        self.input_shape, spec = parse_arch(arch)
        modules: list[nn.Module] = []
        shape = self.input_shape
        for kind, size in spec:
            if kind == "conv":
                if len(shape) != 3:
                    raise _arch_error(arch, "a convolution needs an image input (CxHxW) and no dense layer before it")
                modules.append(SpikingConv2d(shape[0], size, 3, self.config))
                shape = (size, shape[1], shape[2])
            elif kind == "pool":
                if len(shape) != 3 or shape[1] < 2 or shape[2] < 2:
                    raise _arch_error(arch, f"pooling needs an image of at least 2x2; got shape {shape}")
                modules.append(MinPool2d(2))
                shape = (shape[0], shape[1] // 2, shape[2] // 2)
            else:
                if len(shape) == 3:
                    modules.append(nn.Flatten())
                    shape = (math.prod(shape),)
                modules.append(SpikingLinear(shape[0], size, self.config))
                shape = (size,)
        super().__init__(*modules)
        self.output_shape = shape

    def spiking_layers(self) -> Iterator[SpikingLayer]:
        return (m for m in self if isinstance(m, SpikingLayer))

    def set_config(self, **changes: object) -> NeuronConfig:
        """Change settings of every neuron layer: :class:`NeuronConfig` or :class:`~imcpnn.params.NeuronParams`
        fields (``eval_steps=30``, ``params=NeuronParams(...)``, ``e_rev_pos=2.0``; see
        :meth:`NeuronConfig.with_updates` for ``e_rev_pos`` alone on an asymmetric pair)."""
        self.config = self.config.with_updates(**changes)
        for layer in self.spiking_layers():
            layer.config = self.config
        return self.config

    def layer_outputs(self, spike_times: torch.Tensor) -> list[torch.Tensor]:
        """Output spike times of every neuron layer (for histograms and regularisers)."""
        outputs = []
        for module in self:
            spike_times = module(spike_times)
            if isinstance(module, SpikingLayer):
                outputs.append(spike_times)
        return outputs

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}"


def init_ttfs_(network: SpikingNetwork, t_ref: float = TTFS_T_REF) -> None:
    """Initialise every layer of a network with the TTFS initialisation (:func:`imcpnn.families.ttfs_weight_bound`)."""
    init_ttfs_weights([layer.weight for layer in network.spiking_layers()], network.config.params, t_ref)


def build_network(arch: str, config: NeuronConfig | None = None, **settings: object) -> SpikingNetwork:
    """Build a :class:`SpikingNetwork` from an architecture string.

    ``settings`` are :class:`NeuronConfig` or :class:`~imcpnn.params.NeuronParams` fields
    (``family="ttfs"``, ``e_rev_pos=2.0``, ...). A family with its own initialisation (TTFS: the
    paper's, :func:`imcpnn.families.init_ttfs_weights`) gets it.
    """
    config = (config or NeuronConfig()).with_updates(**settings)
    network = SpikingNetwork(arch, config)
    initialise = config.neuron_family.initialise
    if initialise is not None:
        initialise([layer.weight for layer in network.spiking_layers()], config.params)
    return network
