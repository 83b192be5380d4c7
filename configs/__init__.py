"""Shipped example specs and their answer keys (installed as backprop_cli.configs)."""
