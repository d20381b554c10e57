"""Configuration: the station config schema, its loader (one report of every problem, exit 78), secrets.

Imports nothing from the project. See :mod:`config.schema` for every key and ``docs/architecture.md``.
"""
