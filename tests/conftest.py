"""Shared fixtures."""
import pytest


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
