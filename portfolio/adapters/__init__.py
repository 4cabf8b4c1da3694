"""Adapters: storage (the ORM, repositories, the unit of work, migrations), the mission exchange
document, the audit pack and the security log. They may import only the domain.
"""
