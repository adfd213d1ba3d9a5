"""Shared fixtures."""
import pytest


@pytest.fixture(autouse=True)
def numpy_code_generation():
    """Brian2 objects built directly in a test run on the numpy target: Brian2's default
    ("auto") compiles a Cython extension per code object, minutes of compiling on a fresh
    machine for simulations of a few hundred steps. (Runs through ``sims.devices`` choose
    their own target.)"""
    from brian2 import prefs

    prefs.codegen.target = "numpy"
    yield


@pytest.fixture
def fresh_brian2():
    """Leave Brian2 on the runtime device with default preferences after the test (as
    Brian2's own conftest does): devices and preferences are process-global."""
    yield
    from brian2 import prefs, set_device
    from brian2.devices import reinit_devices

    reinit_devices()
    set_device("runtime")
    prefs.reset_to_defaults()
