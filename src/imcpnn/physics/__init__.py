"""Pure tensor functions for the IMC-aware neuron (spec ``MODEL.md`` sections 1-4).

- :mod:`.neuron`: the one-interval step, the reversal-potential weights ``βw``, the RC-Spike
  firing phase and the TTFS threshold crossing (sections 1-3);
- :mod:`.integrate`: integration over a sequence of intervals of constant ``f, g``, shared by the
  exact and the DSTD solvers; :mod:`.end_potential`, its closed-form end potential with a
  hand-written backward (the hot path);
- :mod:`.exact`: the exact event-driven solvers (sections 2-3);
- :mod:`.dstd`: differentiable spike-time discretization (section 4).

Nothing here checks its arguments: :mod:`imcpnn.functional` (the public, checked entry points) and
:mod:`imcpnn.kernels` (the unchecked layer path) call these functions.
"""
