#!/usr/bin/env python3
"""Print docs/findings.md, the catalogue of doctor's findings, from the code that defines them:
    python3 scripts/findings-doc.py > docs/findings.md"""
from debuglab import doctor

print(doctor.catalogue_markdown(), end="")
