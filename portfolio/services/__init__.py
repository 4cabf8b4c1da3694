"""Use cases. Each takes primitives or domain models plus a unit of work, so the web form, the
JSON API and the CLI all call the same function, and commits through that unit of work.

Services may import the domain and the adapters; nothing below them imports a service.
"""
