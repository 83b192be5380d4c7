"""Answer keys against a Trace: reading keys, tolerance, diagnosis, JUnit."""
