"""A local stand-in for the Soundcharts API: deterministic synthetic data, real response shapes, knobs.

``python -m soundcharts_simulator`` serves it; :class:`soundcharts_simulator.testing.SimulatorServer` runs it
in-process; :mod:`soundcharts_simulator.pytest_plugin` provides the ``soundcharts_sim`` and ``sim`` fixtures.
"""

from soundcharts_simulator.app import create_app
from soundcharts_simulator.catalogue import Catalogue
from soundcharts_simulator.state import Fault, SimulatorState

__all__ = ["Catalogue", "Fault", "SimulatorState", "create_app"]
