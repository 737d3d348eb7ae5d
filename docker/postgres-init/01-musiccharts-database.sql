-- Runs once, when the postgres service initialises an empty data volume (docker-entrypoint-initdb.d).
-- Airflow's metadata lives in the `airflow` database (POSTGRES_DB); the product's data lives in its own
-- database, never in Airflow's metadata database. airflow-init migrates both.
CREATE DATABASE musiccharts;
