"""Entries of the registry: who may see which, by state and standing decision."""
