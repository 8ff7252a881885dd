"""Everything about stacks: typed settings loaded from Pulumi config, and the offline preview engine.

The settings are imported on first use, not with the package, so that ``stacks.exit_codes`` stays importable by the
pipeline's standard-library-only steps (``ci/packages.py``, ``ci/notify.py``, ``ci/approval.py``, ``ci/pr_comment.py``),
which run before the virtual environment exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stacks.settings import PlatformSettings, SettingsError, load

__all__ = ["PlatformSettings", "SettingsError", "load"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from stacks import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'stacks' has no attribute {name!r}")
