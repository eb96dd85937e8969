"""PyTorch layers of IMC-aware neurons and the network builder (spec ``MODEL.md`` section 5)."""

from ..families import ttfs_weight_bound
from ..params import NeuronParams, SolverSettings
from .config import NeuronConfig
from .network import SpikingNetwork, build_network, init_ttfs_, parse_arch
from .neurons import MinPool2d, SpikingConv2d, SpikingLayer, SpikingLinear

__all__ = [
    "MinPool2d",
    "NeuronConfig",
    "NeuronParams",
    "SolverSettings",
    "SpikingConv2d",
    "SpikingLayer",
    "SpikingLinear",
    "SpikingNetwork",
    "build_network",
    "init_ttfs_",
    "parse_arch",
    "ttfs_weight_bound",
]
