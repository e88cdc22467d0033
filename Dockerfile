# Container image of portcullis (used by deploy/helm/portcullis).
# Build: docker build -t ghcr.io/portcullis/portcullis:0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/portcullis ./cmd/portcullis

# Static binary on a minimal, non-root base; the chart runs it read-only.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/portcullis /portcullis
USER 65532:65532
ENTRYPOINT ["/portcullis"]
