# The MusicCharts Airflow image: the official Airflow 3.3.2 image plus exactly the versions in
# requirements.txt (the same lock as `make install`, the tests and CI), and the repository's code.
#
#   docker compose build            # or: docker build -t musiccharts-airflow:local .
#
# Dependencies come from the lock only (never _PIP_ADDITIONAL_REQUIREMENTS, which reinstalls on every
# container start and resolves whatever is newest that day).
FROM apache/airflow:3.3.2-python3.11

# The base image installs into the airflow user's site-packages; stay that user for pip.
USER airflow

# Dependencies first, so code changes do not invalidate this (slow) layer.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
# --no-deps: the lock is already the complete, resolved set; pip must not re-resolve it.
RUN pip install --no-cache-dir --no-deps -r /opt/airflow/requirements.txt

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 simulators/ /opt/airflow/simulators/
COPY --chown=airflow:0 airflow_settings.yaml /opt/airflow/airflow_settings.yaml

# include/ (domain code), plugins/ (hooks, settings applier) and simulators/ are importable the same way as
# in the native stack and the tests (pyproject `pythonpath`).
ENV PYTHONPATH=/opt/airflow/include:/opt/airflow/plugins:/opt/airflow/simulators
