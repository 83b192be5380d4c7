"""`python -m backprop_cli` runs the CLI."""
from .entry import main

main()
