"""Service indicators (Decision 766/QĐ-TTg) and the one-stop report, counted from the dossiers.

Every figure is a visibility count over the dossiers' search attributes (docs/indicators.md):
no second store of truth. `queries` builds the count queries, `figures` runs them into rows,
`scoring` turns rates into the decision's points, `export` writes tables, CSV and Excel.
"""
