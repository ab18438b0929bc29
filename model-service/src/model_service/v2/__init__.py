"""The Open Inference Protocol (v2): tensors, the JSON and binary codec, inference."""
