"""The calculus both pipelines share: expression trees, number policies, activations."""
