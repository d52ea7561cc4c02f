"""Config model: mon.cf, ha.cf, haresources and authkeys as the originals read them."""

from .errors import ConfigError, ConfigWarning, Location

__all__ = ["ConfigError", "ConfigWarning", "Location"]
