"""Config model: mon.cf, ha.cf, haresources and authkeys as the originals read them."""

__all__ = ["ConfigError", "ConfigWarning", "Location"]


def __getattr__(name: str):
    # on first use only: `heartbeat -V`/`-D` import config.hacf_defaults and need no dataclasses
    if name in __all__:
        from . import errors
        return getattr(errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
