"""
A toy tabletop world where a small CLIP trains in minutes, so grounding can be measured.

Real CLIP and SAM weights cannot be downloaded on the development machines; scenes of coloured
shapes with exact masks and verified referring expressions stand in for RefCOCO there.
"""
