#!/usr/bin/env python3
"""Print docs/catalog.md, the labs by course topic and by family, from their lab.toml:
    python3 scripts/catalog-doc.py > docs/catalog.md"""
from debuglab import catalog

print(catalog.catalog_markdown(catalog.all_labs()), end="")
