# syntax=docker/dockerfile:1
# CarePath container image: one static binary on distroless, running as non-root.
#
#   docker build -t carepath .
#   docker run -p 8080:8080 -v carepath-data:/var/lib/carepath carepath
#       -> the embedded default (SQLite + in-process Redis + fake WeChat + demo data)
#   docker run -e CAREPATH_CONFIG=/etc/carepath/carepath.yaml -v ./carepath.yaml:/etc/carepath/carepath.yaml:ro \
#       -e CAREPATH_AUTH_TOKEN_SECRET_FILE=/run/secrets/token_secret ... carepath
#       -> production; see configs/carepath.example.yaml. Run `carepath migrate` once per release:
#          docker run ... carepath migrate

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/carepath ./cmd/carepath \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/carepath /usr/local/bin/carepath
COPY configs/ /etc/carepath/
# The data directory (embedded SQLite, dev secrets) must be writable by the nonroot user (65532).
COPY --from=build --chown=65532:65532 /out/data /var/lib/carepath
ENV CAREPATH_DATA_DIR=/var/lib/carepath
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/carepath"]
CMD ["serve"]
