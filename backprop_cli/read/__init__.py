"""Reading user files safely: YAML with marks, the number grammar, shipped examples."""
