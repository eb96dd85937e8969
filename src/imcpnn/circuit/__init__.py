"""sky130 / ngspice co-simulation of the RC-Spike circuit (see docs/circuit.md)."""
