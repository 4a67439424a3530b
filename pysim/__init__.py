"""ICA co-simulation: MCU firmware against an ICA AT module model and a local cloud."""

__version__ = "0.1.0"
