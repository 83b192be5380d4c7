"""`python -m backprop_cli` runs the CLI."""
from .cli import main

main()
