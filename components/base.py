"""What every component shares: the stack's context, one way to tag and one way to make child options.

A component is ``class Database(PlatformComponent)`` with ``pulumi_type = "shop:data:Database"`` and
``component = "database"`` (the ``component`` tag); its Args carry ``context: StackContext`` instead of the
naming, account, role scope and protect flag one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi

from components.account import Account
from components.iam import RoleScope
from components.naming import Naming


@dataclass(frozen=True)
class StackContext:
    """Where and as what the stack's resources are created: the same for every component of one stack."""

    naming: Naming
    account: Account
    role_scope: RoleScope
    """Path and permissions boundary of every role the stack creates."""
    protect: bool
    """Whether resources that hold data are protected from deletion (prod)."""

    @classmethod
    def of_stack(cls, naming: Naming, account: Account, *, bounded: bool, protect: bool) -> StackContext:
        return cls(
            naming=naming,
            account=account,
            role_scope=RoleScope.of_stack(naming, account, bounded=bounded),
            protect=protect,
        )


class PlatformComponent(pulumi.ComponentResource):
    """A component of the platform: registers as ``pulumi_type``, tags its resources with ``component``."""

    pulumi_type: ClassVar[str]
    component: ClassVar[str]

    def __init__(self, name: str, context: StackContext, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.pulumi_type, name, None, opts)
        self.context = context

    @property
    def naming(self) -> Naming:
        return self.context.naming

    def tags(self, purpose: str | None = None, *, name: str | None = None, **extra: str) -> dict[str, str]:
        """The component's tags with ``Name`` set to the physical name for ``purpose`` (or to ``name`` as given)."""
        if name is not None:
            extra = {"Name": name, **extra}
        elif purpose is not None:
            extra = {"Name": self.naming.physical(purpose), **extra}
        return self.naming.tags(self.component, **extra)

    def child(
        self, parent: pulumi.Resource | None = None, *, holds_data: bool = False, **options: Any
    ) -> pulumi.ResourceOptions:
        """Options of a child resource: parented to ``parent`` (this component by default); ``holds_data`` protects
        it when the stack protects data, which is the only reason anything is protected."""
        if holds_data:
            options["protect"] = self.context.protect
        return pulumi.ResourceOptions(parent=parent or self, **options)
