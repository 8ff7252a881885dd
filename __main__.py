"""The shop platform: settings in, components out. Read components/platform.py for the wiring."""

import stacks
from components import platform

settings = stacks.load()
shop_platform = platform.build(settings)
platform.export(shop_platform)
