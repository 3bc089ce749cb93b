"""JSON Schemas of the files conlab writes, shipped with the package."""
