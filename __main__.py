"""The shop platform: settings in, components out. Read components/platform.py for the wiring and
components/outputs.py for what the stack exports."""

import stacks
from components import outputs, platform

settings = stacks.load()
shop_platform = platform.build(settings)
outputs.export(shop_platform)
