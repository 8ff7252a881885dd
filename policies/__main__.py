"""The pack's entry point for the Pulumi CLI: constructs the PolicyPack, which serves the rules until stopped.

Never import this module (the constructor blocks forever); the rules live in ``rules/``.
"""

from pulumi_policy import PolicyPack
from rules import PACK_DESCRIPTION, PACK_ENFORCEMENT, PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=PACK_ENFORCEMENT, description=PACK_DESCRIPTION)
