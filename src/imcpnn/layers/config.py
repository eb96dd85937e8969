"""Typed settings of a layer of IMC-aware neurons: the family, the neuron's parameters, the solver policy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .. import validation as check
from ..families import NeuronFamily, get_family
from ..params import Method, NeuronParams

_PARAM_FIELDS = frozenset(f.name for f in dataclasses.fields(NeuronParams))


@dataclass(frozen=True)
class NeuronConfig:
    """Settings of a layer of IMC-aware neurons (spec ``MODEL.md`` sections 1-5).

    Attributes:
        family: a key of :data:`imcpnn.families.FAMILIES` (``"rcspike"`` or ``"ttfs"``).
        params: the neuron's parameters (reversal potentials, leak, ``β_dis``, threshold, window).
        solver: ``"dstd"`` or ``"exact"``.
        steps: DSTD intervals ``M`` in training mode.
        eval_steps: DSTD intervals in evaluation mode (``None``: ``steps``).
        random_offset: draw a new grid offset ``o ~ U(0, Δ)`` every training forward pass.
        spike_noise: standard deviation σ of the Gaussian noise added to output spike times, in
            training and in evaluation (finite precision of analog potentials).
    """

    family: str = "rcspike"
    params: NeuronParams = field(default_factory=NeuronParams)
    solver: Method = "dstd"
    steps: int = 4
    eval_steps: int | None = None
    random_offset: bool = True
    spike_noise: float = 0.0

    def __post_init__(self) -> None:
        get_family(self.family)
        if not isinstance(self.params, NeuronParams):
            raise ValueError(f"params must be a NeuronParams; got {type(self.params).__name__}")
        check.check_nonnegative("spike_noise", self.spike_noise, "σ of the spike-time noise")
        check.check_method(self.solver)
        check.check_steps(self.steps)
        if self.eval_steps is not None:
            check.check_steps(self.eval_steps)

    @property
    def neuron_family(self) -> NeuronFamily:
        return get_family(self.family)

    @property
    def time_window(self) -> float:
        """The layer's time window: 1 for RC-Spike, ``params.window`` for TTFS."""
        return self.neuron_family.window(self.params)

    def steps_for(self, training: bool) -> int:
        """DSTD intervals in training or in evaluation mode."""
        return self.steps if training else (self.eval_steps or self.steps)

    def with_updates(self, **changes: object) -> NeuronConfig:
        """A copy with some settings changed: fields of this class or of :class:`NeuronParams`.

        ``e_rev_pos`` alone keeps a symmetric pair symmetric (``E- = -E+``); on an asymmetric pair it
        raises, since the new ``E-`` would be a guess: give ``e_rev_neg`` as well.
        """
        param_changes = {k: changes.pop(k) for k in list(changes) if k in _PARAM_FIELDS}
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(
                f"unknown neuron settings {unknown}; allowed: {sorted({f.name for f in dataclasses.fields(self)})} "
                f"and the NeuronParams fields {sorted(_PARAM_FIELDS)}"
            )
        params = changes.pop("params", self.params)
        if param_changes:
            if "e_rev_pos" in param_changes and "e_rev_neg" not in param_changes:
                if not params.is_symmetric:  # type: ignore[union-attr]
                    raise ValueError(
                        f"e_rev_pos={param_changes['e_rev_pos']!r} given alone, but E- = {params.e_rev_neg:g} "  # type: ignore[union-attr]
                        f"is not -E+ = {-params.e_rev_pos:g}; give e_rev_neg too"  # type: ignore[union-attr]
                    )
                param_changes["e_rev_neg"] = None
            if "e_rev_pos" in param_changes:
                e_pos, e_neg = param_changes.pop("e_rev_pos"), param_changes.pop("e_rev_neg")
                params = params.with_reversal(e_pos, e_neg)  # type: ignore[union-attr, arg-type]
            params = dataclasses.replace(params, **param_changes)  # type: ignore[type-var]
        return dataclasses.replace(self, params=params, **changes)  # type: ignore[arg-type]
