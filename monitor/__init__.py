"""Tanfang Monitor (探访关爱远程监测): remote monitoring and alerting for elders."""

__version__ = "0.1.0"
