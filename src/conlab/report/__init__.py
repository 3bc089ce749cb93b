"""How results are shown: the terminal (rich) and the result file (JSON). Nothing here measures."""
