"""Extraction settings shared by tests that write a parameter file (cohort and bad-input tests)."""

#: Original image, shape + first-order: the lightest pyradiomics-format YAML that still extracts features
LIGHT_PARAMS_YAML = """\
imageType:
  Original: {}
featureClass:
  shape:
  firstorder:
setting:
  binWidth: 25
  label: 1
"""
