"""imcpnn: physical neural networks of analog in-memory-computing (IMC) circuits.

The IMC-aware neuron (a non-leaky integrate-and-fire neuron with reversal potentials E±), its
two-phase RC-Spike and time-to-first-spike (TTFS) forms, exact event-driven solvers, and DSTD
(differentiable spike-time discretization) for training them; PyTorch layers; training; and a
sky130/ngspice co-simulation that checks a trained network against its transistor-level circuit.

The equations are those of ``shared/spec/MODEL.md``; docstrings name its sections.
"""

__version__ = "0.1.0"
