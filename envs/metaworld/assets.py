"""Where Meta-World's models come from: the official `metaworld` package's XML assets.

Only the assets are read (the package's environments serve as the parity oracle in the
tests). metaworld 3.0.0 is the release that installs beside MuJoCo 4: 3.1.1 pins
`mujoco==3.3.0`, and its Sawyer environments differ from 3.0.0's only by one camera
(`corner4`, which the ADS authors' lever-pull renders from) and a renamed dictionary.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

SUPPORTED = ("3.0.0", "3.1.1")
INSTALL = 'pip install -e ".[metaworld]"  (metaworld==3.0.0)'


class MetaWorldError(ImportError):
    """The `metaworld` package is missing or of a release these tasks were not written from."""


def version() -> str:
    try:
        return metadata.version("metaworld")
    except metadata.PackageNotFoundError:
        raise MetaWorldError(f"Meta-World tasks need the official metaworld package for their models: {INSTALL}") \
            from None


def asset_root() -> Path:
    found = version()
    if found not in SUPPORTED:
        raise MetaWorldError(f"metaworld {found} is installed; these tasks were written from {SUPPORTED[0]} "
                             f"(also accepted: {', '.join(SUPPORTED[1:])}). {INSTALL}")
    import metaworld

    return Path(metaworld.__file__).parent / "assets"


def model_path(relative: str) -> Path:
    path = asset_root() / relative
    if not path.exists():
        raise MetaWorldError(f"metaworld {version()} has no model {relative} under {path.parent}")
    return path


def require_warp() -> None:
    """Meta-World's models need MJX's warp implementation (cylinder collisions); say how to get it."""
    try:
        import warp  # noqa: F401
    except ImportError:
        raise MetaWorldError('Meta-World tasks run on MJX\'s warp implementation: pip install -e ".[pixels]" '
                             "(warp-lang)") from None
