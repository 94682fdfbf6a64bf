"""The live demo: a real node process fed over loopback DDS."""
