"""Song analysis with ACRCloud: clients, audio sampling, result parsing, risk, and the product-DB store."""
