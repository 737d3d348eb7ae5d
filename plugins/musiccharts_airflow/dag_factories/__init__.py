"""DAG factories: one module per family of DAGs that share one shape (DAG files stay thin loops)."""
