"""Traefik's static and dynamic file configuration as pydantic models, and their loaders."""

from proxy.config.durations import Duration, parse_duration
from proxy.config.dynamic import (
    DynamicConfig,
    ForwardingTimeoutsConfig,
    HTTPConfig,
    LoadBalancerConfig,
    RouterConfig,
    ServerConfig,
    ServersTransportConfig,
    ServiceConfig,
)
from proxy.config.dynamic_middlewares import UNSUPPORTED_MIDDLEWARE_TYPES, MiddlewareConfig
from proxy.config.errors import ConfigError, ConfigProblem
from proxy.config.loader import (
    classify,
    dynamic_files,
    load_dynamic,
    load_dynamic_file,
    merge_dynamic,
    read_any_config,
    read_config_file,
)
from proxy.config.static import EntryPointConfig, FileProviderConfig, StaticConfig, split_address
from proxy.config.static_sources import load_static, static_flag_help

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "Duration",
    "DynamicConfig",
    "EntryPointConfig",
    "FileProviderConfig",
    "ForwardingTimeoutsConfig",
    "HTTPConfig",
    "LoadBalancerConfig",
    "MiddlewareConfig",
    "RouterConfig",
    "ServerConfig",
    "ServersTransportConfig",
    "ServiceConfig",
    "StaticConfig",
    "UNSUPPORTED_MIDDLEWARE_TYPES",
    "classify",
    "dynamic_files",
    "load_dynamic",
    "load_dynamic_file",
    "load_static",
    "merge_dynamic",
    "parse_duration",
    "read_any_config",
    "read_config_file",
    "split_address",
    "static_flag_help",
]
