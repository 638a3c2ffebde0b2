"""Helpers the tests share: a real Anvil process, database URLs per kind, the CLI
driven as a user drives it, a misbehaving JSON-RPC proxy, the hostile API
harness, PDF samples and an independent RFC 9162 reference.

Test code only; nothing here is imported by ``docanchor`` itself.
"""
