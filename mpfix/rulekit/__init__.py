"""What a rule module is built from: the Rule contract and its context, helpers for
naming imported things in the file's own style, adding imports, and keeping blank lines.
"""
