"""DAG factories: one module per DAG family; DAG files stay thin and call them."""
