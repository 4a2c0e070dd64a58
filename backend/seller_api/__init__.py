"""The seller API (/api/seller/v1): an entry point above the domain services."""
