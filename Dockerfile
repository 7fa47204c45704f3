# One image for every process of the system (API, Celery workers, locker bridge).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/pickup
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY logistics ./logistics
COPY lockers ./lockers
COPY notifications ./notifications
COPY ops_dashboard ./ops_dashboard
RUN pip install --no-cache-dir -c constraints.txt .
RUN useradd --system --home /srv/pickup pickup
USER pickup
EXPOSE 8000
CMD ["pickup", "serve", "--host", "0.0.0.0", "--port", "8000"]
