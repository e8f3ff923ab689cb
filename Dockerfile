# syntax=docker/dockerfile:1
# The wicket image: the release binary on a distroless base, running as uid 65532.
#
#   docker build -t ghcr.io/wicket-dev/wicket:0.1.0 .

# ---- build: the release binary, with the registry and target dir cached between builds.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p controller --bin wicket \
    && cp target/release/wicket /usr/local/bin/wicket

# ---- runtime: glibc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/wicket /wicket
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
# http, https, admin (/healthz, /readyz, /metrics). Unprivileged: no capability needed.
EXPOSE 8080 8443 10254
ENTRYPOINT ["/wicket"]
CMD ["serve"]
