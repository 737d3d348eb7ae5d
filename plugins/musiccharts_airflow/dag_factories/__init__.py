"""DAG factories, one module per DAG family; DAG files under ``dags/`` only call them."""
