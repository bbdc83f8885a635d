# The opticite API and worker image (CPU only: OCR on GPUs runs in the vllm-ocr service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    OPTICITE_DATA_DIR=/data
# two malloc arenas, not 8 a core: ingest's peak RSS 1,079 -> 934 MiB at the same pages/s
# (docs/benchmarks.md, "e5's memory")
ENV MALLOC_ARENA_MAX=2

# libgomp1: onnxruntime (RapidOCR) and torch use OpenMP
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# torch first and pinned to the CPU build: an unpinned torch pulls several GB of CUDA packages
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ingest ./ingest
COPY retrieval ./retrieval
COPY api ./api
COPY configs ./configs
RUN pip install .

RUN useradd --create-home --uid 1000 opticite \
    && mkdir -p /data \
    && chown opticite:opticite /data
USER opticite
VOLUME ["/data"]
EXPOSE 8000

CMD ["opticite", "serve", "--host", "0.0.0.0", "--port", "8000"]
