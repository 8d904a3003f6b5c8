# syntax=docker/dockerfile:1
#
# vpce-rollout controller image.
#
#   docker build -t vpce-rollout:0.1.0 .
#
# Build: the Rust toolchain on Debian 12 (gcc is needed by ring, rustls' crypto provider).
# Run: distroless `cc` on Debian 12 (same glibc as the build stage, plus libgcc_s and the CA
# bundle that TLS to the API server and AWS needs), as the distroless `nonroot` user. The binary
# writes nothing to disk, so the pod runs with a read-only root file system (see the chart).

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# Release binaries without symbols: smaller image, same behaviour.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never
COPY . .
# Cache mounts keep the registry and target/ between builds; the binary is copied out of the
# cache in the same step, since cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vpce-rollout \
 && install -D -m 0755 target/release/vpce-rollout /out/vpce-rollout

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="vpce-rollout" \
      org.opencontainers.image.description="Rolls out AWS interface VPC endpoints without cutting off clients" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/vpce-rollout /usr/local/bin/vpce-rollout
# 65532 is distroless' nonroot user; numeric so that runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/vpce-rollout"]
CMD ["run"]
