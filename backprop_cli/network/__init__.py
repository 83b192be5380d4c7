"""Network specs → Trace: the spec reader, the engine, the scalar derivation."""
