"""A local emulator of the Insightly CRM REST API v3.1 for tests and demos.

    from insightly_emulator import Emulator, EmulatorConfig
    with Emulator(EmulatorConfig(seed=7, profile="test")) as emu:
        httpx.get(emu.base_url + "Contacts", auth=("test-key", ""))

Never imported by production code.
"""

from .config import EmulatorConfig
from .requestlog import RequestLogEntry
from .server import Emulator
from .store import DriftEvent, Tenant

__all__ = ["DriftEvent", "Emulator", "EmulatorConfig", "RequestLogEntry", "Tenant"]
