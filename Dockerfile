# syntax=docker/dockerfile:1
# Multi-stage: the build stage runs scripts/build-release.sh (the same script CI runs); the runtime
# stage is slim Debian with only the server binary, the site assets, the shipped model and the
# feature CSV. Expected image size: about 135 MB (bookworm-slim ~75 MB + 59 MB staged by the build
# script: a 52 MB server binary, 3.4 MB site, 2.7 MB model, 1.1 MB feature CSV).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Debian packages the build needs. Node runs two pinned npm packages: Swagger UI's files and
# Binaryen's wasm-opt (Debian's binaryen 108 breaks the WASM bundle, so it is not installed).
# pkg-config lets the compression -sys crates (bzip2, lzma, zstd) find system libraries before
# building their own; no crate in the tree, cargo-leptos or wasm-bindgen-cli links OpenSSL (rustls).
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build-release.sh /dist

FROM debian:bookworm-slim AS runtime
# ca-certificates: the S3 client (rustls with the system's roots) verifies a bucket's certificate.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 brainscan \
 && mkdir -p /var/lib/brainscan \
 && chown brainscan:brainscan /var/lib/brainscan
WORKDIR /app
COPY --from=build /dist /app
# Everything the server writes (SQLite database, uploads, retrained model versions) lives under
# DATA_ROOT: mount one volume there. (Scaled out, with DATABASE_URL and STORAGE_URL, only this
# process's cache does, which need not survive a restart.) The read-only parts ship inside the image.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATA_ROOT=/var/lib/brainscan \
    MODEL_DIR=/app/models \
    FEATURES_CSV=/app/data/processed/image_features_train.csv \
    LEPTOS_SITE_ROOT=/app/site \
    RUST_LOG=info
VOLUME ["/var/lib/brainscan"]
USER brainscan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/app/brainscan", "healthcheck"]
CMD ["/app/brainscan", "serve"]
